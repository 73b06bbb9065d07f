/**
 * End-to-end throughput: HTTP ingress (durable append, 202) through dispatch to a noop function in a
 * sandbox, against a bare Fastify server that answers 202 at once, driven by the same client.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Store } from "../src/bus/index.ts";
import { openAppSecrets, startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { startBare } from "./bare.ts";
import { BENCH_KEY, drive, type LoadResult } from "./load.ts";
import { sleep } from "./stats.ts";

export const EVENT_BODY = JSON.stringify({ type: "bench.ping", data: { n: 1 } });

const MANIFEST = `name: bench
# The NATS measures count delivered attempts from the workers' /metrics, which has no admin key there.
metrics: { public: true }
events:
  bench.ping: { schema: schemas/bench.ping.json }
  # Same schema, no subscriber: measures ingest (auth, validation, durable append) without delivery.
  bench.ingest: { schema: schemas/bench.ping.json }
  # Events of a chosen size (a padding string): what the cost per byte is.
  bench.blob: { schema: schemas/bench.blob.json }
principals:
  bench:
    apiKey: { secret: BENCH_KEY }
    publish: [bench.ping, bench.ingest, bench.blob]
    rateLimit: { perSecond: 1000000, burst: 10000000 }
functions:
  noop:
    handler: functions/noop.ts
    on: [bench.ping, bench.blob]
    limits: { concurrency: 2 }
`;

/** The schema of `bench.ping` and `bench.ingest` data. */
export const SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["n"],
  additionalProperties: false,
  properties: { n: { type: "integer" } },
};

const BLOB_SCHEMA = {
  ...SCHEMA,
  properties: { ...SCHEMA.properties, pad: { type: "string", maxLength: 262144 } },
};

/** Writes the bench app into a fresh temp directory and returns its path (caller removes it). */
export function createBenchApp(): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-bench-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "functions"));
  writeFileSync(join(dir, "palisade.yaml"), MANIFEST);
  writeFileSync(join(dir, "schemas", "bench.ping.json"), `${JSON.stringify(SCHEMA, null, 2)}\n`);
  writeFileSync(join(dir, "schemas", "bench.blob.json"), `${JSON.stringify(BLOB_SCHEMA, null, 2)}\n`);
  writeFileSync(join(dir, "functions", "noop.ts"), "export default () => {};\n");
  openAppSecrets(dir).set("BENCH_KEY", BENCH_KEY);
  return dir;
}

export interface HttpBaseline {
  rps: number;
  load: LoadResult;
}

/** A bare Fastify `POST /events` that answers 202 without doing anything. */
export async function runBaseline(total: number, concurrency: number, warmup: number): Promise<HttpBaseline> {
  const bare = await startBare();
  try {
    await drive(bare.url, warmup, concurrency, EVENT_BODY);
    const load = await drive(bare.url, total, concurrency, EVENT_BODY);
    return { rps: (load.accepted / load.ms) * 1000, load };
  } finally {
    await bare.close();
  }
}

export interface PalisadeRun {
  acceptedRps: number;
  e2eRps: number;
  e2eMs: number;
  delivered: number;
  failed: number;
  timedOut: boolean;
  commits: number;
  writes: number;
  writesPerCommit: number;
  load: LoadResult;
}

interface Drained {
  delivered: number;
  failed: number;
  timedOut: boolean;
}

/** Polls the store until every id is settled for every target, or the deadline passes. */
export async function waitSettled(store: Store, ids: readonly string[], deadline: number): Promise<Drained> {
  let i = 0;
  let delivered = 0;
  let failed = 0;
  while (i < ids.length) {
    const states = await store.queue.deliveries(ids[i] ?? "");
    if (states.length > 0 && states.every((s) => s.state !== "pending")) {
      if (states.every((s) => s.state === "delivered")) delivered += 1;
      else failed += 1;
      i += 1;
      continue;
    }
    if (performance.now() > deadline) return { delivered, failed, timedOut: true };
    await sleep(1);
  }
  return { delivered, failed, timedOut: false };
}

/** Starts the platform on the bench app, sends `total` events and waits until each is delivered. */
export async function runPalisade(
  appDir: string,
  total: number,
  concurrency: number,
  warmup: number,
  timeoutMs: number,
): Promise<PalisadeRun> {
  const platform = await startPlatform({
    appDir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  try {
    const warm = await drive(platform.url, warmup, concurrency, EVENT_BODY);
    await waitSettled(platform.store, warm.ids, performance.now() + timeoutMs);
    const before = { commits: 0, writes: 0, ...platform.store.stats };
    const start = performance.now();
    const load = await drive(platform.url, total, concurrency, EVENT_BODY);
    const drained = await waitSettled(platform.store, load.ids, start + timeoutMs);
    const e2eMs = performance.now() - start;
    const commits = (platform.store.stats?.commits ?? 0) - before.commits;
    const writes = (platform.store.stats?.writes ?? 0) - before.writes;
    return {
      acceptedRps: (load.accepted / load.ms) * 1000,
      e2eRps: (drained.delivered / e2eMs) * 1000,
      e2eMs,
      ...drained,
      commits,
      writes,
      writesPerCommit: commits === 0 ? 0 : writes / commits,
      load,
    };
  } finally {
    await platform.close();
  }
}
