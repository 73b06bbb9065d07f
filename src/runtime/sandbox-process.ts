/**
 * One sandbox process. Threat model: the function's code is untrusted. It runs in a separate Node
 * process under the permission model (`--permission`): read access to its own bundle file and, if
 * granted `tmp: true`, read and write access to a private scratch directory of `limits.tmpMb`
 * (scratch-dir.ts), and nothing else; no network, child processes, worker threads, native addons,
 * WASI or inspector; an empty environment; code generation from strings off unless the manifest opts
 * out; a V8 heap limit; killed after its wall-clock timeout. Where bubblewrap works, the OS layer
 * (os-layer.ts) wraps it in namespaces as well. It talks to the host only in frames on fd 3
 * (frame-channel.ts); a message over the bound stops it before the host buffers it. What this does
 * NOT protect against: CPU time within the timeout, memory outside the V8 heap (Buffers), kernel
 * bugs, side channels, and (without bubblewrap) a burst of scratch writes between two checks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import type { Duplex } from "node:stream";
import { PalisadeError } from "../errors.ts";
import { checkMessage } from "./check-message.ts";
import {
  RUNTIME_CRASHED,
  RUNTIME_LOAD_FAILED,
  RUNTIME_OUTPUT_TOO_LARGE,
  RUNTIME_SCRATCH_FULL,
} from "./errors.ts";
import { stackFrames, withStack } from "./failure-stack.ts";
import { openFrameChannel } from "./frame-channel.ts";
import type { HostMessage, SandboxMessage, SerializedError } from "./guest/protocol.ts";
import { bwrapArgs } from "./os-layer.ts";
import { runnerFile } from "./runner-file.ts";
import { createScratch, watchScratch } from "./scratch-dir.ts";

/**
 * Largest message a sandbox process may send the host, in serialized bytes, unless its output limit
 * needs more (see `messageBound`). A larger one kills the process before the host buffers it.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The message bound for a function: MAX_MESSAGE_BYTES, or room for 4× its output limit if larger. */
export function messageBound(outputBytes: number): number {
  return Math.max(MAX_MESSAGE_BYTES, 4 * outputBytes);
}

/** Why the host stopped a sandbox process that broke a sandbox limit (message size, scratch size). */
export type SandboxViolation =
  | { kind: "message-too-large"; bytes: number; limit: number }
  | { kind: "malformed-message" }
  | { kind: "scratch-full"; bytes: number; limit: number };

/** How often the host measures a scratch directory without the OS layer (also after each invocation). */
export const SCRATCH_CHECK_MS = 1000;

export interface SandboxProcessOptions {
  functionName: string;
  bundlePath: string;
  memoryMb: number;
  /** Largest result the function may return, in JSON bytes. */
  outputBytes: number;
  /** Give the process a private scratch directory (removed when it exits). */
  tmp: boolean;
  /** Size limit of the scratch directory, in bytes. */
  tmpBytes: number;
  allowCodeGeneration: boolean;
  /** Run inside bubblewrap as well (see os-layer.ts). */
  osLayer: boolean;
  /** Largest message the process may send, in serialized bytes. @default MAX_MESSAGE_BYTES */
  maxMessageBytes?: number;
  onMessage: (msg: SandboxMessage) => void;
  /** The process broke a sandbox limit (message size, scratch size) and is being killed. */
  onViolation?: (violation: SandboxViolation) => void;
  /** Lines the function wrote to stdout or stderr (console.log and Node's own warnings). */
  onOutput: (stream: "stdout" | "stderr", line: string) => void;
  onExit: (reason: PalisadeError) => void;
}

export interface SandboxProcess {
  readonly pid: number | undefined;
  /** Resolves once the bundle is loaded; rejects if it cannot be. */
  readonly ready: Promise<void>;
  send(msg: HostMessage): void;
  kill(): void;
}

export interface SandboxGrants {
  memoryMb: number;
  /** Private scratch directory, readable and writable. */
  tmpdir?: string | undefined;
  allowCodeGeneration?: boolean;
}

/** The Node flags that make a process a sandbox for `bundlePath`. */
export function sandboxFlags(bundlePath: string, grants: SandboxGrants): string[] {
  return [
    "--permission",
    `--allow-fs-read=${bundlePath}`,
    ...(grants.tmpdir === undefined
      ? []
      : [`--allow-fs-read=${grants.tmpdir}`, `--allow-fs-write=${grants.tmpdir}`]),
    `--max-old-space-size=${grants.memoryMb}`,
    ...(grants.allowCodeGeneration === true ? [] : ["--disallow-code-generation-from-strings"]),
    "--disable-proto=delete",
    "--enable-source-maps",
  ];
}

/** The command and arguments that start the runner for `options`, inside bwrap or not. */
function sandboxCommand(options: SandboxProcessOptions, scratch: string | undefined): [string, string[]] {
  const runner = runnerFile();
  const node = [
    ...sandboxFlags(options.bundlePath, {
      memoryMb: options.memoryMb,
      tmpdir: scratch,
      allowCodeGeneration: options.allowCodeGeneration,
    }),
    runner,
    options.bundlePath,
    options.functionName,
    String(options.outputBytes),
    scratch ?? "",
  ];
  if (!options.osLayer) return [process.execPath, node];
  const mount = scratch === undefined ? undefined : { path: scratch, bytes: options.tmpBytes };
  return ["bwrap", [...bwrapArgs([runner, options.bundlePath], mount), process.execPath, ...node]];
}

/** Kills the process (under bwrap, its whole process group). */
function killer(child: ChildProcess, osLayer: boolean): () => void {
  return () => {
    if (osLayer && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
        return;
      } catch {
        // the group is already gone
      }
    }
    child.kill("SIGKILL");
  };
}

/** Starts a sandbox process for one function bundle. */
export function startSandboxProcess(options: SandboxProcessOptions): SandboxProcess {
  const scratch = options.tmp ? createScratch(options.functionName, options.osLayer) : undefined;
  const [command, args] = sandboxCommand(options, scratch);
  const child: ChildProcess = spawn(command, args, {
    // An empty environment: no secrets, proxies or NODE_OPTIONS leak in (DESIGN invariant 2).
    env: {},
    // No Node IPC channel (it buffers whole messages, of any size): frames on fd 3 instead.
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    // Under bwrap, a new session and process group: killing the group takes bwrap's own processes
    // and the function's with it, even if bwrap is still setting up (its parent-death signals race).
    detached: options.osLayer,
  });
  const kill = killer(child, options.osLayer);
  let stderrTail = "";
  forwardLines(child.stdout, (line) => options.onOutput("stdout", line));
  forwardLines(child.stderr, (line) => {
    stderrTail = `${stderrTail}\n${line}`.slice(-2000);
    options.onOutput("stderr", line);
  });

  let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  ready.catch(() => undefined);

  const limit = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  let violation: PalisadeError | undefined;
  const channel = openFrameChannel(child.stdio[3] as Duplex, limit, {
    onMessage(raw) {
      const msg = checkMessage(raw);
      // Not the protocol: a function forging messages. It does not get another chance.
      if (msg === undefined) {
        options.onOutput(
          "stderr",
          "the function sent a message outside the sandbox protocol; process stopped",
        );
        kill();
        return;
      }
      // Without the OS layer the host measures the scratch directory: an invocation that filled it
      // past its limit does not complete; its process is stopped (and its directory removed).
      if (msg.t === "done" && scratchOver()) return;
      if (msg.t === "ready") settle?.resolve();
      else if (msg.t === "fatal") {
        settle?.reject(loadFailed(options.functionName, msg.error, options.bundlePath));
        kill(); // it cannot serve anything, and its channel would keep it alive
      } else options.onMessage(msg);
    },
    onTooLarge(bytes) {
      violation = new PalisadeError(
        RUNTIME_OUTPUT_TOO_LARGE,
        `Function "${options.functionName}" sent a message of ${bytes} bytes, over the limit of ${limit}; its sandbox was stopped`,
      );
      options.onViolation?.({ kind: "message-too-large", bytes, limit });
      kill();
    },
    onMalformed() {
      options.onOutput("stderr", "the function sent a frame that is not a message; process stopped");
      options.onViolation?.({ kind: "malformed-message" });
      kill();
    },
    // Its code closed the channel (fd 3): it could only sit idle until a timeout, so it goes now.
    onClosed: kill,
  });
  // Without the OS layer the host measures the scratch directory (with it, the kernel bounds it).
  const watch =
    scratch === undefined || options.osLayer
      ? undefined
      : watchScratch(scratch, options.tmpBytes, SCRATCH_CHECK_MS, (bytes) => {
          violation ??= scratchFull(options.functionName, bytes, options.tmpBytes);
          options.onViolation?.({ kind: "scratch-full", bytes, limit: options.tmpBytes });
          kill();
        });
  const scratchOver = (): boolean => violation !== undefined || watch?.check() === true;
  child.on("error", (err) => settle?.reject(new PalisadeError(RUNTIME_CRASHED, err.message, { cause: err })));
  child.on("exit", (code, signal) => {
    // Close our end of the channel: if the function's process outlived the one we started (bwrap
    // killed before it armed its parent-death signal), it sees the end and exits.
    channel.close();
    watch?.stop();
    // Under the OS layer the scratch directory was a tmpfs: gone with the process.
    if (scratch !== undefined && !options.osLayer) rmSync(scratch, { recursive: true, force: true });
    const reason = violation ?? exitReason(options.functionName, code, signal, stderrTail, options.memoryMb);
    settle?.reject(reason);
    options.onExit(reason);
  });

  return {
    pid: child.pid,
    ready,
    send: (msg) => channel.send(msg),
    kill,
  };
}

function scratchFull(name: string, bytes: number, limit: number): PalisadeError {
  const shown = Number.isFinite(bytes) ? `${bytes} bytes` : "too many files";
  return new PalisadeError(
    RUNTIME_SCRATCH_FULL,
    `Function "${name}" wrote ${shown} to its scratch directory, over its limit of ${limit} bytes (limits.tmpMb); its sandbox was stopped`,
    { retryable: true },
  );
}

// No secret can be in it yet: a function reads secrets through an invocation's ctx, after loading.
function loadFailed(name: string, error: SerializedError, bundlePath: string): PalisadeError {
  const frames = stackFrames(error.stack, bundlePath, (text) => text);
  return new PalisadeError(
    RUNTIME_LOAD_FAILED,
    withStack(`Cannot load function "${name}": ${error.message}`, frames),
  );
}

function exitReason(
  name: string,
  code: number | null,
  signal: string | null,
  stderr: string,
  memoryMb: number,
) {
  const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
  const oom = /heap out of memory|Reached heap limit/.test(stderr)
    ? ` (heap limit of ${memoryMb} MB reached)`
    : "";
  return new PalisadeError(RUNTIME_CRASHED, `Sandbox of function "${name}" ${how}${oom}`, {
    retryable: true,
  });
}

function forwardLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  let buffer = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) if (line !== "") onLine(line.slice(0, 8192));
    if (buffer.length > 65536) buffer = buffer.slice(-65536);
  });
}
