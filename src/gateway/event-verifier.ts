/**
 * Producer-signed events verified off the event loop, in batches: the verifications a burst of
 * requests asks for within one turn of the loop go to a worker thread as one message (`verifyEvent`
 * there: envelope, Ed25519 or P-256 signature, digests), whose answer settles them all. One message
 * per batch keeps what the loop itself pays per event to a few microseconds (a handoff to libuv's
 * thread pool per signature cost as much as parsing the request), and the loop keeps serving while
 * the worker verifies. If the worker fails, its batch and every later one are verified in process:
 * an event is never taken as verified without the whole check.
 */
import type { KeyObject } from "node:crypto";
import { Worker } from "node:worker_threads";
import { type VerifiableEvent, type VerifyResult, verifyEvent } from "../verifiable/index.ts";

/** Verifies one event against a principal's keys; resolves to what `verifyEvent` would return. */
export type EventVerifier = (
  event: VerifiableEvent,
  material: string,
  keys: ReadonlyMap<string, KeyObject>,
) => Promise<VerifyResult>;

interface Job {
  keys: number;
  event: VerifiableEvent;
  material: string;
  resolve: (result: VerifyResult) => void;
}

/** An `EventVerifier` backed by one worker thread, started at the first event, unref'd. */
export function createEventVerifier(): EventVerifier & { close(): Promise<void> } {
  const numbers = new WeakMap<ReadonlyMap<string, KeyObject>, number>();
  const keySets = new Map<number, ReadonlyMap<string, KeyObject>>();
  const sent = new Set<number>();
  const waiting = new Map<number, Job[]>();
  let worker: Worker | undefined;
  let failed = false;
  let queue: Job[] = [];
  let nextKeys = 1;
  let nextBatch = 1;
  let scheduled = false;

  function start(): Worker {
    const w = new Worker(new URL("./event-verifier-thread.ts", import.meta.url));
    w.unref();
    w.on("message", (answer: { id: number; results: VerifyResult[] }) => {
      const jobs = waiting.get(answer.id) ?? [];
      waiting.delete(answer.id);
      jobs.forEach((job, i) => {
        const result = answer.results[i];
        if (result === undefined) verifyHere(job);
        else job.resolve(result);
      });
    });
    w.on("error", fail);
    w.on("exit", () => fail());
    return w;
  }

  // From here on every event is verified in process; what the worker held is verified again.
  function fail(): void {
    if (failed) return;
    failed = true;
    worker = undefined;
    for (const jobs of waiting.values()) for (const job of jobs) verifyHere(job);
    waiting.clear();
  }

  function verifyHere(job: Job): void {
    job.resolve(verifyEvent(job.event, job.material, keySets.get(job.keys) ?? new Map()));
  }

  function flush(): void {
    scheduled = false;
    const jobs = queue;
    queue = [];
    if (failed) {
      for (const job of jobs) verifyHere(job);
      return;
    }
    worker ??= start();
    const fresh: [number, ReadonlyMap<string, KeyObject>][] = [];
    for (const job of jobs) {
      if (sent.has(job.keys)) continue;
      sent.add(job.keys);
      fresh.push([job.keys, keySets.get(job.keys) as ReadonlyMap<string, KeyObject>]);
    }
    const id = nextBatch++;
    waiting.set(id, jobs);
    worker.postMessage({
      id,
      keySets: fresh,
      jobs: jobs.map((j) => ({ keys: j.keys, event: j.event, material: j.material })),
    });
  }

  const verify = ((event: VerifiableEvent, material: string, keys: ReadonlyMap<string, KeyObject>) =>
    new Promise<VerifyResult>((resolve) => {
      let n = numbers.get(keys);
      if (n === undefined) {
        n = nextKeys++;
        numbers.set(keys, n);
        keySets.set(n, keys);
      }
      queue.push({ keys: n, event, material, resolve });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    })) as EventVerifier & { close(): Promise<void> };
  verify.close = async () => {
    const w = worker;
    fail(); // what the worker still holds is verified here
    if (w !== undefined) await w.terminate();
  };
  return verify;
}
