/**
 * End-to-end throughput with batching: CloudEvents batches over HTTP (durable 202), then routing,
 * dispatch to a noop function in its sandbox, and settles, timed until the last delivery is settled.
 * The baseline is a bare Fastify server answering the same batches with 202.
 */
import { performance } from "node:perf_hooks";
import type { Store } from "../src/bus/index.ts";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { startBare } from "./bare.ts";
import { BATCH_TYPE, batchBodies } from "./ingest.ts";
import { drive } from "./load.ts";
import { sleep } from "./stats.ts";

export interface BatchE2eConfig {
  batches: number;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
  /** @default true (as in dev and start); false measures what encryption at rest costs */
  encryptAtRest?: boolean;
  /** Tracing (and audit) on, as in dev and start. @default true */
  observability?: boolean;
  /** Called once the platform listens, before the warm-up (the dashboard bench connects a client). */
  onStarted?: (url: string) => Promise<void>;
}

export interface BatchE2eRun {
  events: number;
  baselineEventsPerSec: number;
  acceptedEventsPerSec: number;
  e2eEventsPerSec: number;
  dead: number;
  timedOut: boolean;
  httpErrors: number;
}

/** True once no delivery is pending (events are routed as they are appended, so none is unrouted). */
export async function drained(store: Store): Promise<boolean> {
  return (await store.queue.nextDue()) === undefined;
}

export async function runBatchE2e(appDir: string, cfg: BatchE2eConfig): Promise<BatchE2eRun> {
  const warm = 4;
  const bodies = batchBodies(warm + cfg.batches, cfg.batchSize, "bench.ping");
  const at = (offset: number) => (i: number) => bodies[offset + i] ?? "";
  const opts = { contentType: BATCH_TYPE };

  const bare = await startBare();
  let baselineEventsPerSec: number;
  try {
    await drive(bare.url, warm, cfg.concurrency, at(0), opts);
    const load = await drive(bare.url, cfg.batches, cfg.concurrency, at(warm), opts);
    baselineEventsPerSec = ((load.accepted * cfg.batchSize) / load.ms) * 1000;
  } finally {
    await bare.close();
  }

  const platform = await startPlatform({
    appDir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    encryptAtRest: cfg.encryptAtRest ?? true,
    tracing: cfg.observability ?? true,
  });
  try {
    await cfg.onStarted?.(platform.url);
    const deadBefore = (await platform.store.queue.deadLetters(1_000_000)).length;
    await drive(platform.url, warm, cfg.concurrency, at(0), opts);
    while (!(await drained(platform.store))) await sleep(5);
    const start = performance.now();
    const load = await drive(platform.url, cfg.batches, cfg.concurrency, at(warm), opts);
    const deadline = start + cfg.timeoutMs;
    let timedOut = false;
    while (!(await drained(platform.store))) {
      if (performance.now() > deadline) {
        timedOut = true;
        break;
      }
      await sleep(1);
    }
    const ms = performance.now() - start;
    const events = load.accepted * cfg.batchSize;
    return {
      events,
      baselineEventsPerSec,
      acceptedEventsPerSec: (events / load.ms) * 1000,
      e2eEventsPerSec: (events / ms) * 1000,
      dead: (await platform.store.queue.deadLetters(1_000_000)).length - deadBefore,
      timedOut,
      httpErrors: load.errors,
    };
  } finally {
    await platform.close();
  }
}
