/**
 * Messages between the host and a sandbox process over Node's IPC channel. The sandbox is untrusted:
 * the host treats every child message as a claim to check, never as a fact.
 *
 * Invocations travel in batches: one `invoke` message carries several events, which the sandbox runs
 * one after another (never at once), answering `done` for each as soon as it finishes.
 */
import type { SerializedError } from "../errors.ts";

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
