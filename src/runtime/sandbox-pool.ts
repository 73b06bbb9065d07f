import { PalisadeError, toPalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import type { CapabilityHost, Invocation } from "./capability-host.ts";
import { RUNTIME_CLOSED, RUNTIME_TIMEOUT } from "./errors.ts";
import type { LogLevel, SandboxMessage } from "./protocol.ts";
import { type SandboxProcess, startSandboxProcess } from "./sandbox-process.ts";

/** Where a function's log lines and raw output go, labelled by the host (never by the sandbox). */
export type FunctionLog = (
  fn: string,
  eventId: string | undefined,
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
) => void;

export interface SandboxPoolOptions {
  fn: FunctionSpec;
  bundlePath: string;
  capabilities: CapabilityHost;
  log: FunctionLog;
}

export interface SandboxPool {
  /** Starts every process and waits until each has loaded the bundle. */
  start(): Promise<void>;
  /** Runs one invocation; rejects on a thrown error, a timeout or a crash. */
  invoke(event: CloudEvent, attempt: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Most invocations sent to one process in one IPC message. The process runs them one after another,
 * so a batch never raises concurrency; it saves a round trip per event when work is queued.
 */
export const INVOKE_BATCH = 32;

interface Job {
  id: number;
  inv: Invocation;
  attempt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Slot {
  proc: SandboxProcess;
  loaded: boolean;
  /** Sent to this process and not yet done, in the order it runs them: the head is running. */
  batch: Job[];
  timer?: NodeJS.Timeout | undefined;
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

  function spawnSlot(assigned: Job[]): Slot {
    const slot: Slot = { loaded: false, batch: [] } as unknown as Slot;
    slots.push(slot);
    slot.proc = startSandboxProcess({
      functionName: fn.name,
      bundlePath: options.bundlePath,
      memoryMb: fn.limits.memoryMb,
      onMessage: (msg) => onMessage(slot, msg),
      onOutput: (stream, line) =>
        options.log(fn.name, slot.batch[0]?.inv.event.id, stream === "stderr" ? "warn" : "info", line, {
          stream,
        }),
      onExit: (reason) => replace(slot, reason),
    });
    slot.proc.ready.then(
      () => {
        slot.loaded = true;
        if (assigned.length > 0) send(slot, assigned);
        else release(slot);
      },
      // A bundle that cannot load fails the invocations that started this process; the exit
      // handler removes the slot.
      (err: unknown) => {
        for (const job of assigned) job.reject(err);
      },
    );
    return slot;
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
      options.log(fn.name, head.inv.event.id, msg.level, msg.message, msg.fields);
    } else if (msg.t === "call") {
      options.capabilities(head.inv, msg.cap, msg.args).then(
        (value) => slot.proc.send({ t: "reply", call: msg.call, ok: true, value }),
        (err: unknown) =>
          slot.proc.send({ t: "reply", call: msg.call, ok: false, error: toPalisadeError(err).toJSON() }),
      );
    } else if (msg.t === "done") {
      slot.batch.shift();
      if (msg.ok) head.resolve();
      else head.reject(new PalisadeError(msg.error.code, msg.error.message, { retryable: true }));
      if (slot.batch.length > 0) armTimeout(slot);
      else {
        clearTimeout(slot.timer);
        release(slot);
      }
    }
  }

  function replace(slot: Slot, reason: PalisadeError): void {
    clearTimeout(slot.timer);
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

  function release(slot: Slot): void {
    if (closed || !slots.includes(slot)) return;
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
        const slot = idle.pop();
        if (slot !== undefined) send(slot, queue.splice(0, INVOKE_BATCH));
        else if (slots.length < fn.limits.concurrency) spawnSlot(queue.splice(0, INVOKE_BATCH));
        else return;
      }
    });
  }

  return {
    async start() {
      for (let i = 0; i < fn.limits.concurrency; i++) spawnSlot([]);
      await Promise.all(slots.map((s) => s.proc.ready));
    },
    invoke(event, attempt) {
      if (closed)
        return Promise.reject(
          new PalisadeError(RUNTIME_CLOSED, `Cannot invoke "${fn.name}": the runtime is closing`),
        );
      return new Promise<void>((resolve, reject) => {
        queue.push({ id: nextId++, inv: { fn, event, emits: 0 }, attempt, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
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
