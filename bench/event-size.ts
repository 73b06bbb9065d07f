/**
 * How cost grows with event size (issue 14): events of 1 KB, 16 KB and 200 KB (a padding string in
 * `data`), each request one event, through Palisade end to end (authenticated, validated, sealed,
 * stored, delivered to the sandboxed no-op and settled) and through the bare Fastify 202 of the same
 * run, in MB/s of request bodies.
 */
import { performance } from "node:perf_hooks";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { startBare } from "./bare.ts";
import { waitSettled } from "./e2e.ts";
import { drive } from "./load.ts";

export interface SizeRun {
  readonly bytes: number;
  readonly events: number;
  readonly bareMBps: number;
  readonly acceptedMBps: number;
  readonly e2eMBps: number;
  readonly delivered: number;
  readonly timedOut: boolean;
}

/** Sizes measured and how many events of each. */
const SIZES: readonly (readonly [number, number])[] = [
  [1024, 2000],
  [16 * 1024, 1000],
  [200 * 1024, 200],
];
const CONCURRENCY = 16;

/** A `bench.blob` event whose request body is `bytes` long. */
export function blobBody(bytes: number): string {
  const empty = JSON.stringify({ type: "bench.blob", data: { n: 1, pad: "" } });
  return JSON.stringify({
    type: "bench.blob",
    data: { n: 1, pad: "x".repeat(Math.max(0, bytes - empty.length)) },
  });
}

/** Runs every size on `appDir` (the bench app) and on the bare server. */
export async function runEventSizes(appDir: string, timeoutMs: number): Promise<SizeRun[]> {
  const mb = (bytes: number, events: number, ms: number) => (bytes * events) / 1e6 / (ms / 1000);
  const bare = await startBare();
  const bareMBps = new Map<number, number>();
  try {
    for (const [bytes, events] of SIZES) {
      const body = blobBody(bytes);
      await drive(bare.url, Math.min(50, events), CONCURRENCY, body);
      const load = await drive(bare.url, events, CONCURRENCY, body);
      bareMBps.set(bytes, mb(bytes, load.accepted, load.ms));
    }
  } finally {
    await bare.close();
  }
  const platform = await startPlatform({
    appDir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  const runs: SizeRun[] = [];
  try {
    for (const [bytes, events] of SIZES) {
      const body = blobBody(bytes);
      const warm = await drive(platform.url, Math.min(50, events), CONCURRENCY, body);
      await waitSettled(platform.store, warm.ids, performance.now() + timeoutMs);
      const start = performance.now();
      const load = await drive(platform.url, events, CONCURRENCY, body);
      const drained = await waitSettled(platform.store, load.ids, start + timeoutMs);
      runs.push({
        bytes,
        events,
        bareMBps: bareMBps.get(bytes) ?? 0,
        acceptedMBps: mb(bytes, load.accepted, load.ms),
        e2eMBps: mb(bytes, drained.delivered, performance.now() - start),
        delivered: drained.delivered,
        timedOut: drained.timedOut,
      });
    }
  } finally {
    await platform.close();
  }
  return runs;
}
