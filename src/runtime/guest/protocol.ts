/**
 * Messages between the host and a sandbox process. They travel on the process's fd 3 (a pipe, not
 * Node's IPC channel) in frames: a 4-byte big-endian length, then that many bytes of
 * `v8.serialize(message)`. The host reads the length first and stops a process whose frame is over
 * its bound (../frame-channel.ts). The sandbox is untrusted: the host treats every child message as
 * a claim to check, never as a fact.
 *
 * Invocations travel in batches: one `invoke` message carries several events, which the sandbox runs
 * one after another (never at once), answering `done` for each as soon as it finishes.
 *
 * Part of the guest side (runtime/guest/): it imports nothing, so the sandbox process needs no file
 * beyond the runner and its bundle (scripts/check-architecture.ts enforces this).
 */

/** An error as it crosses the channel: the wire form of PalisadeError (src/errors.ts). */
export interface SerializedError {
  code: string;
  message: string;
  retryable: boolean;
  /** The error's stack as the sandbox saw it (a claim: the host keeps only frames, see failure-stack.ts). */
  stack?: string;
}

export interface InvokeItem {
  id: number;
  event: unknown;
  attempt: number;
}

export type HostMessage =
  | { t: "invoke"; items: InvokeItem[] }
  | { t: "reply"; call: number; ok: true; value: unknown }
  | { t: "reply"; call: number; ok: false; error: SerializedError };

export type SandboxMessage =
  | { t: "ready" }
  | { t: "fatal"; error: SerializedError }
  | { t: "call"; id: number; call: number; cap: string; args: unknown[] }
  | { t: "log"; id: number; level: LogLevel; message: string; fields: Record<string, unknown> }
  | { t: "done"; id: number; ok: true; value?: unknown }
  | { t: "done"; id: number; ok: false; error: SerializedError };

export type LogLevel = "debug" | "info" | "warn" | "error";

/** What ctx.fetch resolves to: plain data, so it crosses the channel to the guest. */
export interface FetchResult {
  /** The final URL, after redirects. */
  url: string;
  status: number;
  statusText: string;
  /** Lower-case names, in the order received; repeated headers stay separate. */
  headers: [string, string][];
  /** As received: content encodings are not decoded. */
  body: Uint8Array;
  redirected: boolean;
}
