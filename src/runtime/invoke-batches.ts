/**
 * Batching for one function's sandbox pool: invocations queue here and go to a process that can take
 * work in batches of up to INVOKE_BATCH. The process runs a batch one invocation at a time; each has
 * its own timeout, counted from when the one before it finished. When a process is lost, its running
 * invocation fails and the rest of its batch goes back to the front of the queue, not charged.
 */
import { PalisadeError } from "../errors.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import { RUNTIME_OUTPUT_TOO_LARGE, RUNTIME_TIMEOUT } from "./errors.ts";
import type { SerializedError } from "./guest/protocol.ts";
import type { Job, PoolProcesses, Slot } from "./pool-processes.ts";

/**
 * Most invocations sent to one process in one IPC message. The process runs them one after another,
 * so a batch never raises concurrency; it saves a round trip per event when work is queued.
 */
export const INVOKE_BATCH = 32;

export interface InvokeBatches {
  /** Queues an invocation; it is sent once a process can take it. */
  enqueue(job: Job): void;
  /** Sends `jobs` to `slot` (a process that just loaded for them). */
  send(slot: Slot, jobs: Job[]): void;
  /** The invocation `slot` is running now, if any. */
  running(slot: Slot): Job | undefined;
  /** The running invocation of `slot` finished: settles it and moves on in the batch. */
  finish(slot: Slot, outcome: { ok: true; value?: unknown } | { ok: false; error: SerializedError }): void;
  /** `slot`'s process is gone: its running invocation fails with `reason`, the rest is queued again. */
  lost(slot: Slot, reason: PalisadeError): void;
  /** Sends queued work to processes that can take it (after the current burst of calls). */
  schedule(): void;
  /** Fails every queued and running invocation with `reason` (the pool is closing). */
  failAll(reason: () => PalisadeError, slots: Slot[]): void;
  /**
   * The function is held: every queued invocation and every one sent to `slots` (running or not)
   * fails with `reason`; the processes that had work are stopped (a batch sent cannot be taken
   * back) and returned, not counted as crashes. Nothing is sent while `held` says so.
   */
  holdAll(reason: () => PalisadeError, slots: readonly Slot[]): void;
}

/**
 * Creates the batching of one pool over its processes; `describe` gives the text a function's own
 * error is kept with (its message and stack, redacted).
 */
export function createInvokeBatches(
  fn: FunctionSpec,
  processes: PoolProcesses,
  describe: (error: SerializedError) => string,
  held: () => boolean,
): InvokeBatches {
  /** Invocations waiting for a process. */
  let queue: Job[] = [];
  let scheduled = false;
  let closed = false;

  function send(slot: Slot, jobs: Job[]): void {
    slot.batch = jobs;
    armTimeout(slot);
    for (const j of jobs) j.onStart?.(j.startedProcess === true); // FaaS semconv faas.coldstart
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
      slot.timedOut = true;
      slot.proc.kill(); // the pool replaces the process when it exits
    }, fn.limits.timeoutMs);
  }

  // The rest of a batch whose process is gone: not started, so not charged; first in line again.
  function requeue(slot: Slot): void {
    queue = [...slot.batch, ...queue];
    slot.batch = [];
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

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      while (queue.length > 0 && !closed && !held()) {
        // Spread the queue over every process that could take work now (idle, or not yet started
        // under the concurrency cap), so queued work runs in parallel before it runs in batches.
        const capacity = processes.room();
        if (capacity === 0) return;
        const take = Math.min(INVOKE_BATCH, Math.ceil(queue.length / capacity));
        const slot = processes.takeIdle();
        if (slot !== undefined) send(slot, queue.splice(0, take));
        else processes.spawn(queue.splice(0, take));
      }
    });
  }

  return {
    enqueue(job) {
      queue.push(job);
      schedule();
    },
    send,
    running: (slot) => slot.batch[0],
    finish(slot, outcome) {
      const head = slot.batch.shift();
      if (head === undefined) return;
      processes.worked();
      if (outcome.ok) settleResult(head, outcome.value);
      // The function's own message and stack, with any secret it read taken out, go to logs and the DLQ.
      else
        head.reject(
          new PalisadeError(outcome.error.code, describe(outcome.error), {
            // A return over outputBytes is as large on every attempt: final, like the host's own
            // refusal (a function claiming this code only dead-letters itself, which it could anyway).
            retryable: outcome.error.code !== RUNTIME_OUTPUT_TOO_LARGE,
          }),
        );
      if (slot.batch.length > 0) armTimeout(slot);
      else {
        clearTimeout(slot.timer);
        processes.release(slot);
        schedule();
      }
    },
    lost(slot, reason) {
      clearTimeout(slot.timer);
      slot.batch.shift()?.reject(reason);
      requeue(slot);
      schedule();
    },
    schedule,
    holdAll(reason, slots) {
      for (const job of queue.splice(0)) job.reject(reason());
      for (const slot of slots) {
        if (slot.batch.length === 0) continue;
        clearTimeout(slot.timer);
        for (const job of slot.batch.splice(0)) job.reject(reason());
        slot.heldStop = true;
        slot.proc.kill(); // the pool replaces it when it exits
      }
    },
    failAll(reason, slots) {
      closed = true;
      for (const job of queue.splice(0)) job.reject(reason());
      for (const slot of slots) {
        clearTimeout(slot.timer);
        for (const job of slot.batch.splice(0)) job.reject(reason());
      }
    },
  };
}
