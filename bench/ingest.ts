/**
 * Ingest without delivery: authenticated, validated POSTs of `bench.ingest` (declared, published by
 * the bench principal, subscribed by no function), single events and CloudEvents batches, against the
 * bare Fastify baseline driven by the same client with the same bodies.
 */
import { randomUUID } from "node:crypto";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { startBare } from "./bare.ts";
import { drive, type LoadResult } from "./load.ts";
import { round, summarize } from "./stats.ts";

export const INGEST_BODY = JSON.stringify({ type: "bench.ingest", data: { n: 1 } });
export const BATCH_TYPE = "application/cloudevents-batch+json";

export interface IngestConfig {
  /** Single-event requests (timed), their concurrency and untimed warm-up requests. */
  requests: number;
  concurrency: number;
  warmup: number;
  /** Batch requests (timed), events per batch, their concurrency and untimed warm-up batches. */
  batches: number;
  batchSize: number;
  batchConcurrency: number;
  batchWarmup: number;
}

export interface SingleSide {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  load: LoadResult;
}

export interface BatchSide {
  eventsPerSec: number;
  requestsPerSec: number;
  /** Ids in 202 replies; equals accepted × batch size when every batch came back whole. */
  ids: number;
  load: LoadResult;
}

export interface IngestRun {
  single: { baseline: SingleSide; palisade: SingleSide };
  batch: { baseline: BatchSide; palisade: BatchSide; commits: number; writes: number };
}

/** `count` distinct batch bodies; every event id is unique in the run (the log stores source+id once). */
export function batchBodies(count: number, size: number, type = "bench.ingest"): string[] {
  const run = randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, b) => {
    const events = Array.from(
      { length: size },
      (_, j) =>
        `{"specversion":"1.0","id":"${run}-${b}-${j}","source":"/bench","type":"${type}","data":{"n":1}}`,
    );
    return `[${events.join(",")}]`;
  });
}

async function single(url: string, cfg: IngestConfig): Promise<SingleSide> {
  await drive(url, cfg.warmup, cfg.concurrency, INGEST_BODY);
  const load = await drive(url, cfg.requests, cfg.concurrency, INGEST_BODY);
  const s = summarize(load.latenciesNs);
  return {
    rps: (load.accepted / load.ms) * 1000,
    p50Ms: round(s.p50Us / 1000, 3),
    p99Ms: round(s.p99Us / 1000, 3),
    load,
  };
}

/** Warm-up batches, then `mark()`, then the timed batches. */
async function batch(
  url: string,
  cfg: IngestConfig,
  bodies: readonly string[],
  mark: () => void = () => {},
): Promise<BatchSide> {
  const at = (offset: number) => (i: number) => bodies[offset + i] ?? "";
  const opts = { contentType: BATCH_TYPE };
  await drive(url, cfg.batchWarmup, cfg.batchConcurrency, at(0), opts);
  mark();
  const load = await drive(url, cfg.batches, cfg.batchConcurrency, at(cfg.batchWarmup), opts);
  return {
    eventsPerSec: ((load.accepted * cfg.batchSize) / load.ms) * 1000,
    requestsPerSec: (load.accepted / load.ms) * 1000,
    ids: load.ids.length,
    load,
  };
}

export async function runIngest(appDir: string, cfg: IngestConfig): Promise<IngestRun> {
  // Built before any timing; the baseline and the platform get the very same bodies.
  const bodies = batchBodies(cfg.batchWarmup + cfg.batches, cfg.batchSize);

  const bare = await startBare();
  let baseSingle: SingleSide;
  let baseBatch: BatchSide;
  try {
    baseSingle = await single(bare.url, cfg);
    baseBatch = await batch(bare.url, cfg, bodies);
  } finally {
    await bare.close();
  }

  const platform = await startPlatform({
    appDir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  try {
    const palSingle = await single(platform.url, cfg);
    const stats = () => ({ commits: 0, writes: 0, ...platform.store.stats });
    let before = stats();
    const palBatch = await batch(platform.url, cfg, bodies, () => {
      before = stats();
    });
    return {
      single: { baseline: baseSingle, palisade: palSingle },
      batch: {
        baseline: baseBatch,
        palisade: palBatch,
        commits: stats().commits - before.commits,
        writes: stats().writes - before.writes,
      },
    };
  } finally {
    await platform.close();
  }
}
