/**
 * The worker side of event-verifier.ts: verifies batches of signed events (`verifyEvent`: material,
 * envelope, signature, digests) and answers with one result per job, in order. Key sets arrive once
 * each (KeyObjects are cloneable), then by number.
 */
import type { KeyObject } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { type VerifiableEvent, verifyEvent } from "../verifiable/index.ts";

const keySets = new Map<number, ReadonlyMap<string, KeyObject>>();

parentPort?.on(
  "message",
  (batch: {
    id: number;
    keySets: [number, ReadonlyMap<string, KeyObject>][];
    jobs: { keys: number; event: VerifiableEvent; material: string }[];
  }) => {
    for (const [n, keys] of batch.keySets) keySets.set(n, keys);
    const results = batch.jobs.map((job) =>
      verifyEvent(job.event, job.material, keySets.get(job.keys) ?? new Map()),
    );
    parentPort?.postMessage({ id: batch.id, results });
  },
);
