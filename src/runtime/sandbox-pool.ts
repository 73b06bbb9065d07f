/**
 * One function's sandbox pool: its processes (pool-processes.ts), the batches they run
 * (invoke-batches.ts) and the redaction of what they log (redactor.ts), joined here with the
 * capability calls the running invocation makes.
 */
import { PalisadeError, toPalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import type { CapabilityHost } from "./capability-host.ts";
import { CRASH_POLICY, type CrashPolicy } from "./crash-breaker.ts";
import { deliveryError, finalRefusal } from "./delivery-error.ts";
import { RUNTIME_CLOSED, RUNTIME_HELD } from "./errors.ts";
import { stackFrames, withStack } from "./failure-stack.ts";
import type { LogLevel, SandboxMessage, SerializedError } from "./guest/protocol.ts";
import { createInvokeBatches } from "./invoke-batches.ts";
import { createPoolProcesses, type Job, type SandboxPoolEvents, type Slot } from "./pool-processes.ts";
import { createRedactor } from "./redactor.ts";

/** Where a function's log lines and raw output go, labelled by the host (never by the sandbox). */
export type FunctionLog = (
  fn: string,
  eventId: string | undefined,
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
  /** The invocation's traceparent, so each line can name its trace. */
  traceparent?: string,
  /** The type of the event the invocation runs for. */
  type?: string,
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
  /** Crash backoff and circuit breaker. @default CRASH_POLICY */
  crashPolicy?: CrashPolicy;
  /** Violations, crashes, and the function becoming unavailable or available again. */
  events?: SandboxPoolEvents;
}

export interface SandboxPool {
  /** Starts every process and waits until each has loaded the bundle. */
  start(): Promise<void>;
  /**
   * Runs one invocation; resolves to what the handler returned, rejects on a thrown error, a timeout
   * or a crash. `onStart` is told when it goes to a process, and whether it waited for that process
   * to start (a cold start; a warm spare started ahead of time makes none).
   */
  invoke(event: CloudEvent, attempt: number, onStart?: (coldStart: boolean) => void): Promise<unknown>;
  /** Processes running now (warm or busy). */
  size(): number;
  /**
   * Holds the function (it was quarantined): what is queued or sent to a process, running included,
   * is given back unattempted (rejected with RUNTIME_HELD, `notAttempted`), and nothing new runs
   * until `release`. Processes that had work are stopped, since a sent batch cannot be recalled.
   */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

/** An instance above `minInstances` that has been idle this long is stopped. */
export const IDLE_STOP_MS = 60_000;

/**
 * A pool of warm sandbox processes for one function, at most `limits.concurrency` of them, each
 * running one invocation at a time (see invoke-batches.ts for how work reaches them).
 */
export function createSandboxPool(options: SandboxPoolOptions): SandboxPool {
  const { fn } = options;
  let nextId = 1;
  let closed = false;
  let held = false;
  const heldError = () =>
    new PalisadeError(RUNTIME_HELD, `Function "${fn.name}" is quarantined: its invocations wait`, {
      retryable: true,
      notAttempted: true,
    });
  const redactor = createRedactor();
  const log: FunctionLog = (name, eventId, level, message, fields, traceparent, type) =>
    options.log(name, eventId, level, redactor.text(message), redactor.fields(fields), traceparent, type);
  const processes = createPoolProcesses({
    fn,
    bundlePath: options.bundlePath,
    osLayer: options.osLayer ?? false,
    idleStopMs: options.idleStopMs ?? IDLE_STOP_MS,
    beforeSpawn: options.beforeSpawn,
    crashPolicy: options.crashPolicy ?? CRASH_POLICY,
    events: options.events ?? {},
    onRoom: () => batches.schedule(),
    onReady(slot, assigned) {
      if (held) for (const job of assigned.splice(0)) job.reject(heldError());
      for (const job of assigned) job.startedProcess = true;
      if (assigned.length > 0) batches.send(slot, assigned);
      else {
        processes.release(slot);
        batches.schedule();
      }
    },
    onLoadFailed: (assigned, err) => {
      for (const job of assigned) job.reject(err);
    },
    onLost: (slot, reason) => batches.lost(slot, reason),
    onMessage,
    onOutput(slot, stream, line) {
      const head = batches.running(slot);
      const level = stream === "stderr" ? "warn" : "info";
      const event = head?.inv.event;
      log(fn.name, event?.id, level, line, { stream }, event?.traceparent, event?.type);
    },
  });
  const describe = (error: SerializedError): string =>
    withStack(redactor.text(error.message), stackFrames(error.stack, options.bundlePath, redactor.text));
  const batches = createInvokeBatches(fn, processes, describe, () => held);

  function onMessage(slot: Slot, msg: SandboxMessage): void {
    const head = batches.running(slot);
    // Only the running invocation may speak; anything else is stale or forged: ignore it.
    if (head === undefined || !("id" in msg) || msg.id !== head.id) return;
    if (msg.t === "log") {
      const { event } = head.inv;
      log(
        fn.name,
        event.id,
        msg.level,
        msg.message.slice(0, 8192),
        plainFields(msg.fields),
        event.traceparent,
        event.type,
      );
    } else if (msg.t === "call") {
      options.capabilities(head.inv, msg.cap, msg.args).then(
        (value) => {
          if (msg.cap === "secrets.get") redactor.remember(value);
          slot.proc.send({ t: "reply", call: msg.call, ok: true, value });
        },
        (err: unknown) => {
          head.refusal ??= finalRefusal(err);
          slot.proc.send({ t: "reply", call: msg.call, ok: false, error: toPalisadeError(err).toJSON() });
        },
      );
    } else if (msg.t === "done") {
      batches.finish(slot, msg);
    }
  }

  return {
    start: () => processes.startWarm(),
    size: () => processes.size(),
    invoke(event, attempt, onStart) {
      if (closed)
        return Promise.reject(
          new PalisadeError(RUNTIME_CLOSED, `Cannot invoke "${fn.name}": the runtime is closing`),
        );
      if (held) return Promise.reject(heldError());
      return new Promise<unknown>((resolve, reject) => {
        const job: Job = {
          id: nextId++,
          inv: { fn, event, emits: 0 },
          attempt,
          onStart,
          // A call that hit a held capability target makes the whole attempt not attempted, whatever
          // the function did after it (it may have caught the refusal): its delivery waits.
          resolve: (value) => (job.inv.held === undefined ? resolve(value) : reject(job.inv.held)),
          // Marked final here, where the runtime knows which of its failures no retry cures.
          reject: (err) => reject(job.inv.held ?? deliveryError(err, job.refusal)),
        };
        batches.enqueue(job);
      });
    },
    hold() {
      if (held || closed) return;
      held = true;
      batches.holdAll(heldError, processes.busy());
    },
    release() {
      if (!held) return;
      held = false;
      batches.schedule();
    },
    async close() {
      closed = true;
      const stopped = () =>
        new PalisadeError(RUNTIME_CLOSED, `Function "${fn.name}" was stopped`, { retryable: true });
      batches.failAll(stopped, processes.close());
    },
  };
}

function plainFields(fields: unknown): Record<string, unknown> {
  return fields !== null && typeof fields === "object" && !Array.isArray(fields)
    ? (fields as Record<string, unknown>)
    : {};
}
