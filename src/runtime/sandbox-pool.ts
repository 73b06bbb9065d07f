import { PalisadeError, toPalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import { assertBundleHasNoSymlinks } from "./bundle-check.ts";
import type { CapabilityHost, Invocation } from "./capability-host.ts";
import { RUNTIME_CLOSED, RUNTIME_LOAD_FAILED, RUNTIME_OUTPUT_TOO_LARGE, RUNTIME_TIMEOUT } from "./errors.ts";
import type { LogLevel, SandboxMessage } from "./guest/protocol.ts";
import { type SandboxProcess, startSandboxProcess } from "./sandbox-process.ts";

/** Where a function's log lines and raw output go, labelled by the host (never by the sandbox). */
export type FunctionLog = (
  fn: string,
  eventId: string | undefined,
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
  /** The invocation's traceparent, so each line can name its trace. */
  traceparent?: string,
) => void;

export interface SandboxPoolOptions {
  fn: FunctionSpec;
  bundlePath: string;
  capabilities: CapabilityHost;
  log: FunctionLog;
  /** Wrap each process in bubblewrap too (detectOsLayer says whether it can be). @default false */
  osLayer?: boolean;
  /** Idle time after which an instance above `minInstances` is stopped. @default IDLE_STOP_MS */
  idleStopMs?: number;
  /** Runs before every process start; a throw refuses the start (the signature check). */
  beforeSpawn?: () => void;
}

export interface SandboxPool {
  /** Starts every process and waits until each has loaded the bundle. */
  start(): Promise<void>;
  /** Runs one invocation; resolves to what the handler returned, rejects on a thrown error, a timeout or a crash. */
  invoke(event: CloudEvent, attempt: number): Promise<unknown>;
  /** Processes running now (warm or busy). */
  size(): number;
  close(): Promise<void>;
}

/** An instance above `minInstances` that has been idle this long is stopped. */
export const IDLE_STOP_MS = 60_000;
/** How long a process may take to load its bundle before it is killed and the load fails. */
export const LOAD_TIMEOUT_MS = 10_000;
/** Secret values shorter than this are not redacted (they would blank out ordinary words). */
const MIN_REDACT = 4;

/**
 * Most invocations sent to one process in one IPC message. The process runs them one after another,
 * so a batch never raises concurrency; it saves a round trip per event when work is queued.
 */
export const INVOKE_BATCH = 32;

interface Job {
  id: number;
  inv: Invocation;
  attempt: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  proc: SandboxProcess;
  loaded: boolean;
  /** Sent to this process and not yet done, in the order it runs them: the head is running. */
  batch: Job[];
  timer?: NodeJS.Timeout | undefined;
  /** When it last became idle (ms). */
  idleSince: number;
  /** Stopped for being idle: not replaced when it exits. */
  retired?: boolean;
}

/**
 * A pool of warm sandbox processes for one function, at most `limits.concurrency` of them, each
 * running one invocation at a time. Invocations queue here and go to an idle process in batches of
 * up to INVOKE_BATCH. Each invocation has its own timeout, counted from when the one before it in
 * its batch finished; a process that times out or dies is replaced, the running invocation fails,
 * and the rest of its batch goes back to the front of the queue without being charged an attempt.
 */
export function createSandboxPool(options: SandboxPoolOptions): SandboxPool {
  const { fn } = options;
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  /** Invocations waiting for a process. */
  let queue: Job[] = [];
  let nextId = 1;
  let closed = false;
  let scheduled = false;
  /** Secret values this function has read: redacted from everything it logs. */
  const secrets = new Set<string>();
  const redact = (text: string): string => {
    let out = text;
    for (const value of secrets) out = out.split(value).join("[REDACTED]");
    return out;
  };
  // Walks the values (strings, arrays, plain objects) rather than editing JSON text, so a secret
  // next to an escape sequence is still found and nothing can make the result unparseable.
  const redactValue = (value: unknown, depth = 0): unknown => {
    if (typeof value === "string") return redact(value);
    if (depth > 32 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactValue(v, depth + 1)]));
  };
  const log: FunctionLog = (name, eventId, level, message, fields, traceparent) =>
    secrets.size === 0
      ? options.log(name, eventId, level, message, fields, traceparent)
      : options.log(
          name,
          eventId,
          level,
          redact(message),
          redactValue(fields) as Record<string, unknown>,
          traceparent,
        );
  // Stop instances above the warm minimum that have been idle a while.
  const idleStopMs = options.idleStopMs ?? IDLE_STOP_MS;
  const reaper = setInterval(() => {
    const now = Date.now();
    for (const slot of [...idle]) {
      if (slots.length <= fn.limits.minInstances) return;
      if (now - slot.idleSince < idleStopMs) continue;
      idle.splice(idle.indexOf(slot), 1);
      slots.splice(slots.indexOf(slot), 1);
      slot.retired = true;
      slot.proc.kill();
    }
  }, idleStopMs / 4);
  reaper.unref();

  function spawnSlot(assigned: Job[]): void {
    // Checked before every start: a symlink planted beside the bundle would let the process read
    // through it (Node's permission model follows links), so such a bundle is not run.
    try {
      assertBundleHasNoSymlinks(options.bundlePath);
      options.beforeSpawn?.();
    } catch (err) {
      // No retry can cure a bundle that fails its checks: it is a load failure (dead-lettered).
      const e = toPalisadeError(err);
      const reason =
        e.code === RUNTIME_LOAD_FAILED
          ? e
          : new PalisadeError(RUNTIME_LOAD_FAILED, `Cannot start function "${fn.name}": ${e.message}`, {
              cause: err,
            });
      for (const job of assigned) job.reject(reason);
      return;
    }
    const slot: Slot = { loaded: false, batch: [], idleSince: Date.now() } as unknown as Slot;
    slots.push(slot);
    slot.proc = startSandboxProcess({
      functionName: fn.name,
      bundlePath: options.bundlePath,
      memoryMb: fn.limits.memoryMb,
      outputBytes: fn.limits.outputBytes,
      tmp: fn.tmp,
      allowCodeGeneration: fn.allowCodeGeneration,
      osLayer: options.osLayer ?? false,
      onMessage: (msg) => onMessage(slot, msg),
      onOutput: (stream, line) =>
        log(
          fn.name,
          slot.batch[0]?.inv.event.id,
          stream === "stderr" ? "warn" : "info",
          line,
          { stream },
          slot.batch[0]?.inv.event.traceparent,
        ),
      onExit: (reason) => replace(slot, reason),
    });
    // A bundle whose top level never finishes (an endless await) must not hold a start forever.
    let loadError: PalisadeError | undefined;
    const loadTimer = setTimeout(() => {
      loadError = new PalisadeError(
        RUNTIME_LOAD_FAILED,
        `Function "${fn.name}" did not finish loading within ${LOAD_TIMEOUT_MS} ms`,
      );
      slot.proc.kill();
    }, LOAD_TIMEOUT_MS);
    slot.proc.ready.then(
      () => {
        clearTimeout(loadTimer);
        slot.loaded = true;
        if (assigned.length > 0) send(slot, assigned);
        else release(slot);
      },
      // A bundle that cannot load fails the invocations that started this process; the exit
      // handler removes the slot.
      (err: unknown) => {
        clearTimeout(loadTimer);
        for (const job of assigned) job.reject(loadError ?? err);
      },
    );
  }

  function send(slot: Slot, jobs: Job[]): void {
    slot.batch = jobs;
    armTimeout(slot);
    slot.proc.send({
      t: "invoke",
      items: jobs.map((j) => ({ id: j.id, event: j.inv.event, attempt: j.attempt })),
    });
  }

  function armTimeout(slot: Slot): void {
    clearTimeout(slot.timer);
    const head = slot.batch[0];
    if (head === undefined) return;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (slot.batch[0] !== head) return;
      slot.batch.shift();
      head.reject(
        new PalisadeError(
          RUNTIME_TIMEOUT,
          `Function "${fn.name}" timed out after ${fn.limits.timeoutMs} ms on event "${head.inv.event.id}"`,
          { retryable: true },
        ),
      );
      requeue(slot);
      slot.proc.kill(); // the exit handler replaces the process
    }, fn.limits.timeoutMs);
  }

  // The rest of a batch whose process is gone: not started, so not charged; first in line again.
  function requeue(slot: Slot): void {
    queue = [...slot.batch, ...queue];
    slot.batch = [];
  }

  function onMessage(slot: Slot, msg: SandboxMessage): void {
    const head = slot.batch[0];
    // Only the running invocation may speak; anything else is stale or forged: ignore it.
    if (head === undefined || !("id" in msg) || msg.id !== head.id) return;
    if (msg.t === "log") {
      log(
        fn.name,
        head.inv.event.id,
        msg.level,
        String(msg.message).slice(0, 8192),
        plainFields(msg.fields),
        head.inv.event.traceparent,
      );
    } else if (msg.t === "call") {
      options.capabilities(head.inv, msg.cap, msg.args).then(
        (value) => {
          if (msg.cap === "secrets.get" && typeof value === "string" && value.length >= MIN_REDACT)
            secrets.add(value);
          slot.proc.send({ t: "reply", call: msg.call, ok: true, value });
        },
        (err: unknown) =>
          slot.proc.send({ t: "reply", call: msg.call, ok: false, error: toPalisadeError(err).toJSON() }),
      );
    } else if (msg.t === "done") {
      slot.batch.shift();
      if (msg.ok) settleResult(head, msg.value);
      // The function's own message, with any secret it read taken out, goes to logs and the DLQ.
      else head.reject(new PalisadeError(msg.error.code, redact(msg.error.message), { retryable: true }));
      if (slot.batch.length > 0) armTimeout(slot);
      else {
        clearTimeout(slot.timer);
        release(slot);
      }
    }
  }

  function replace(slot: Slot, reason: PalisadeError): void {
    clearTimeout(slot.timer);
    if (slot.retired) return;
    slot.batch.shift()?.reject(reason);
    requeue(slot);
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    const j = idle.indexOf(slot);
    if (j >= 0) idle.splice(j, 1);
    // Keep the pool warm after a crash or timeout, but never respawn in a loop a bundle that
    // cannot load: such a slot is only started again on demand, by queued invocations.
    if (!closed && slot.loaded) spawnSlot([]);
    schedule();
  }

  // The sandbox checked its result's size; a forged message is checked again here.
  function settleResult(job: Job, value: unknown): void {
    let size = 0;
    try {
      size = value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value) ?? "");
    } catch {
      size = Number.POSITIVE_INFINITY;
    }
    if (size <= fn.limits.outputBytes) job.resolve(value);
    else
      job.reject(
        new PalisadeError(
          RUNTIME_OUTPUT_TOO_LARGE,
          `Function "${fn.name}" returned more than its limit of ${fn.limits.outputBytes} bytes (limits.outputBytes)`,
        ),
      );
  }

  function release(slot: Slot): void {
    if (closed || !slots.includes(slot)) return;
    slot.idleSince = Date.now();
    idle.push(slot);
    schedule();
  }

  // Runs after the current burst of invoke() calls, so they share batches.
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      while (queue.length > 0 && !closed) {
        // Spread the queue over every process that could take work now (idle, or not yet started
        // under the concurrency cap), so queued work runs in parallel before it runs in batches.
        const capacity = idle.length + Math.max(0, fn.limits.concurrency - slots.length);
        if (capacity === 0) return;
        const take = Math.min(INVOKE_BATCH, Math.ceil(queue.length / capacity));
        const slot = idle.pop();
        if (slot !== undefined) send(slot, queue.splice(0, take));
        else spawnSlot(queue.splice(0, take));
      }
    });
  }

  return {
    async start() {
      assertBundleHasNoSymlinks(options.bundlePath);
      options.beforeSpawn?.();
      for (let i = 0; i < fn.limits.minInstances; i++) spawnSlot([]);
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new PalisadeError(
                RUNTIME_LOAD_FAILED,
                `Function "${fn.name}" did not finish loading within ${LOAD_TIMEOUT_MS} ms`,
              ),
            ),
          LOAD_TIMEOUT_MS,
        ).unref(),
      );
      await Promise.race([Promise.all(slots.map((s) => s.proc.ready)), timeout]);
    },
    size: () => slots.length,
    invoke(event, attempt) {
      if (closed)
        return Promise.reject(
          new PalisadeError(RUNTIME_CLOSED, `Cannot invoke "${fn.name}": the runtime is closing`),
        );
      return new Promise<unknown>((resolve, reject) => {
        queue.push({ id: nextId++, inv: { fn, event, emits: 0 }, attempt, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      clearInterval(reaper);
      const stopped = () =>
        new PalisadeError(RUNTIME_CLOSED, `Function "${fn.name}" was stopped`, { retryable: true });
      for (const job of queue.splice(0)) job.reject(stopped());
      for (const s of slots) {
        clearTimeout(s.timer);
        for (const job of s.batch.splice(0)) job.reject(stopped());
        s.proc.kill();
      }
    },
  };
}

function plainFields(fields: unknown): Record<string, unknown> {
  return fields !== null && typeof fields === "object" && !Array.isArray(fields)
    ? (fields as Record<string, unknown>)
    : {};
}
