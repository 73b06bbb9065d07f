/**
 * One sandbox process. Threat model: the function's code is untrusted. It runs in a separate Node
 * process under the permission model (`--permission`): read access to its own bundle file and
 * nothing else; no writes, network, child processes, worker threads, native addons, WASI or
 * inspector; an empty environment; a V8 heap limit; killed after its wall-clock timeout. What this
 * does NOT protect against: CPU time within the timeout, memory outside the V8 heap (Buffers), bugs
 * in Node's permission model itself (see the permission-model advisories in the tests), and
 * side channels. An OS layer (namespaces, seccomp) is the next line and is not part of this slice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PalisadeError, type SerializedError } from "../errors.ts";
import { RUNTIME_CRASHED, RUNTIME_LOAD_FAILED } from "./errors.ts";
import type { HostMessage, SandboxMessage } from "./protocol.ts";

const RUNNER = fileURLToPath(new URL("./runner.ts", import.meta.url));

export interface SandboxProcessOptions {
  functionName: string;
  bundlePath: string;
  memoryMb: number;
  onMessage: (msg: SandboxMessage) => void;
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

/** The Node flags that make a process a sandbox for `bundlePath`. */
export function sandboxFlags(bundlePath: string, memoryMb: number): string[] {
  return [
    "--permission",
    `--allow-fs-read=${bundlePath}`,
    `--max-old-space-size=${memoryMb}`,
    "--disallow-code-generation-from-strings",
    "--disable-proto=delete",
    "--enable-source-maps",
  ];
}

/** Starts a sandbox process for one function bundle. */
export function startSandboxProcess(options: SandboxProcessOptions): SandboxProcess {
  const child: ChildProcess = spawn(
    process.execPath,
    [...sandboxFlags(options.bundlePath, options.memoryMb), RUNNER, options.bundlePath, options.functionName],
    // An empty environment: no secrets, proxies or NODE_OPTIONS leak in (DESIGN invariant 2).
    { env: {}, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" },
  );
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

  child.on("message", (raw: unknown) => {
    const msg = raw as SandboxMessage;
    if (msg.t === "ready") settle?.resolve();
    else if (msg.t === "fatal") settle?.reject(loadFailed(options.functionName, msg.error));
    else options.onMessage(msg);
  });
  child.on("error", (err) => settle?.reject(new PalisadeError(RUNTIME_CRASHED, err.message, { cause: err })));
  child.on("exit", (code, signal) => {
    const reason = exitReason(options.functionName, code, signal, stderrTail, options.memoryMb);
    settle?.reject(reason);
    options.onExit(reason);
  });

  return {
    pid: child.pid,
    ready,
    send(msg) {
      if (child.connected) child.send(msg);
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}

function loadFailed(name: string, error: SerializedError): PalisadeError {
  return new PalisadeError(RUNTIME_LOAD_FAILED, `Cannot load function "${name}": ${error.message}`);
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
