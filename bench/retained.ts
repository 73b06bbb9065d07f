/**
 * How cost grows with history (issue 14): batch ingest and end to end with batching on an app whose
 * log already holds N events (BENCH_RETAINED, default 1,000,000), next to an empty app in the same
 * run; aim ≥ 0.9×. The history is real: appended through the app's sealed store (sealed with its key
 * ring, as at start), routed to `noop` and settled as delivered, so the delivery rows hold it too.
 * Also how long starting the platform takes on each, and to its first delivered event.
 */
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createEvent } from "../src/events/index.ts";
import { openAppStore, startPlatform } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { createLogger } from "../src/observe/index.ts";
import { createBenchApp, EVENT_BODY, waitSettled } from "./e2e.ts";
import { type BatchE2eRun, runBatchE2e } from "./e2e-batch.ts";
import { type IngestConfig, runIngest } from "./ingest.ts";
import { drive } from "./load.ts";
import { printTable, ratio, round, perSecond as rps, times as x } from "./stats.ts";

export interface RetainedConfig {
  /** Events already in the log of the full app. */
  retained: number;
  /** Timed batches (each measure), events per batch, batches in flight. */
  batches: number;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
}

/** What one app (empty or with history) measured. */
export interface RetainedSide {
  /** Platform restart (prepare, open the stores, sandboxes, listen), in ms. */
  startMs: number;
  /** From the start call to one event sent after it settled as delivered, in ms. */
  firstDeliveryMs: number;
  ingestEventsPerSec: number;
  e2e: BatchE2eRun;
  /** The first prefilled event is still in the log after the runs (retention left history alone). */
  historyKept: boolean;
}

export interface RetainedRun {
  retained: number;
  fillMs: number;
  empty: RetainedSide;
  full: RetainedSide;
}

/** Events appended (and settled) per store call while filling: one commit each. */
const FILL_CHUNK = 20_000;

/**
 * Fills `appDir`'s log with `count` bench.ping events as the platform would hold them: sealed with
 * the app's key ring, with random ids (as events sent without one get), routed to `noop` on append,
 * taken and settled as delivered. Untimed set-up.
 * Resolves to the id of the first event.
 */
export async function prefill(appDir: string, count: number): Promise<string> {
  const store = await openAppStore(loadApp(appDir));
  const origin = { principal: "bench", source: "/bench", hop: 0, schemaversion: 1 };
  let first = "";
  try {
    for (let done = 0; done < count; ) {
      const n = Math.min(FILL_CHUNK, count - done);
      const events = Array.from({ length: n }, (_, i) =>
        createEvent({ type: "bench.ping", data: { n: done + i } }, origin),
      );
      first ||= events[0]?.id ?? "";
      await store.events.append(events);
      const taken = await store.queue.take("noop", n);
      if (taken.length !== n) throw new Error(`prefill: took ${taken.length} of ${n} deliveries`);
      await Promise.all(
        taken.map((d) => {
          if ("refused" in d) throw new Error(`prefill: delivery refused: ${d.refused.error}`);
          const ref = {
            seq: d.seq,
            target: d.target,
            attempts: d.attempts,
            eventId: d.event.id,
            type: d.event.type,
          };
          return store.queue.settle(ref, { kind: "delivered" });
        }),
      );
      done += n;
    }
  } finally {
    await store.close();
  }
  return first;
}

/** Start time, and time to the first delivered event, of the platform on `appDir`. */
async function startUp(
  appDir: string,
  timeoutMs: number,
): Promise<{ startMs: number; firstDeliveryMs: number }> {
  const t0 = performance.now();
  const platform = await startPlatform({
    appDir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  const startMs = performance.now() - t0;
  try {
    const sent = await drive(platform.url, 1, 1, EVENT_BODY);
    const settled = await waitSettled(platform.store, sent.ids, performance.now() + timeoutMs);
    if (settled.delivered !== 1)
      throw new Error(`retained: the first event was not delivered (${sent.firstError ?? "timed out"})`);
    return { startMs, firstDeliveryMs: performance.now() - t0 };
  } finally {
    await platform.close();
  }
}

/** Batch ingest (bench.ingest: no subscriber) as ingest.ts measures it, on its own. */
async function batchIngest(appDir: string, cfg: RetainedConfig): Promise<number> {
  const ingest: IngestConfig = {
    requests: 1,
    concurrency: 1,
    warmup: 0,
    batches: cfg.batches,
    batchSize: cfg.batchSize,
    batchConcurrency: cfg.concurrency,
    batchWarmup: 4,
  };
  return (await runIngest(appDir, ingest)).batch.palisade.eventsPerSec;
}

async function historyKept(appDir: string, firstId: string): Promise<boolean> {
  const store = await openAppStore(loadApp(appDir));
  try {
    return (await store.events.find(firstId)).length === 1;
  } finally {
    await store.close();
  }
}

/** Runs `measure` on the empty app, then on the full one (each phase back to back, same order). */
async function both<T>(
  apps: readonly [string, string],
  measure: (app: string) => Promise<T>,
): Promise<[T, T]> {
  const empty = await measure(apps[0]);
  return [empty, await measure(apps[1])];
}

/**
 * Runs `measure` twice on each app, empty, full, full, empty, and merges each app's two runs: what
 * runs first in a process (cold JIT, the machine's drift) weighs on both sides alike.
 */
async function twice<T>(
  apps: readonly [string, string],
  measure: (app: string) => Promise<T>,
  merge: (a: T, b: T) => T,
): Promise<[T, T]> {
  const [e1, f1] = await both(apps, measure);
  const [f2, e2] = await both([apps[1], apps[0]], measure);
  return [merge(e1, e2), merge(f1, f2)];
}

const mean = (a: number, b: number): number => (a + b) / 2;

function mergeE2e(a: BatchE2eRun, b: BatchE2eRun): BatchE2eRun {
  return {
    events: a.events + b.events,
    baselineEventsPerSec: mean(a.baselineEventsPerSec, b.baselineEventsPerSec),
    acceptedEventsPerSec: mean(a.acceptedEventsPerSec, b.acceptedEventsPerSec),
    e2eEventsPerSec: mean(a.e2eEventsPerSec, b.e2eEventsPerSec),
    dead: a.dead + b.dead,
    timedOut: a.timedOut || b.timedOut,
    httpErrors: a.httpErrors + b.httpErrors,
  };
}

/**
 * Fills one app with `cfg.retained` events, then measures it next to an empty app, phase by phase;
 * throughputs are the mean of two runs on each (empty, full, full, empty).
 */
export async function runRetained(cfg: RetainedConfig): Promise<RetainedRun> {
  const apps = [createBenchApp(), createBenchApp()] as const;
  try {
    const t0 = performance.now();
    const firstId = await prefill(apps[1], cfg.retained);
    const fillMs = performance.now() - t0;
    // Each app's first start also prepares it (bundles, schema versions, keys): the second is a restart.
    await both(apps, (app) => startUp(app, cfg.timeoutMs));
    const starts = await both(apps, (app) => startUp(app, cfg.timeoutMs));
    const ingest = await twice(apps, (app) => batchIngest(app, cfg), mean);
    const { batches, batchSize, concurrency, timeoutMs } = cfg;
    const e2e = await twice(
      apps,
      (app) => runBatchE2e(app, { batches, batchSize, concurrency, timeoutMs }),
      mergeE2e,
    );
    const kept = await historyKept(apps[1], firstId);
    const side = (i: 0 | 1): RetainedSide => ({
      ...starts[i],
      ingestEventsPerSec: ingest[i],
      e2e: e2e[i],
      historyKept: i === 0 || kept,
    });
    return { retained: cfg.retained, fillMs, empty: side(0), full: side(1) };
  } finally {
    for (const app of apps) rmSync(app, { recursive: true, force: true });
  }
}

/** Prints the section and returns its JSON. */
export function reportRetained(r: RetainedRun): Record<string, unknown> {
  const n = r.retained.toLocaleString("en-US");
  const aim = (v: number): string => (v >= 0.9 ? "≥ 0.9× — met" : "≥ 0.9× — missed");
  const ingestRatio = ratio(r.full.ingestEventsPerSec, r.empty.ingestEventsPerSec);
  const e2eRatio = ratio(r.full.e2e.e2eEventsPerSec, r.empty.e2e.e2eEventsPerSec);
  const acceptedRatio = ratio(r.full.e2e.acceptedEventsPerSec, r.empty.e2e.acceptedEventsPerSec);
  const ms = (v: number): string => `${round(v, 0).toLocaleString("en-US")} ms`;
  printTable(
    `Retained history (${n} events already in the log, routed to noop and delivered; same run, same batches; mean of 2 runs each)`,
    ["measure", "empty log", `${n} events retained`, "ratio", "aim"],
    [
      [
        "batch ingest (events/s, no subscriber)",
        rps(r.empty.ingestEventsPerSec),
        rps(r.full.ingestEventsPerSec),
        x(ingestRatio),
        aim(ingestRatio),
      ],
      [
        "end to end with batching: accepted (events/s)",
        rps(r.empty.e2e.acceptedEventsPerSec),
        rps(r.full.e2e.acceptedEventsPerSec),
        x(acceptedRatio),
        "",
      ],
      [
        "end to end with batching: all settled (events/s)",
        rps(r.empty.e2e.e2eEventsPerSec),
        rps(r.full.e2e.e2eEventsPerSec),
        x(e2eRatio),
        aim(e2eRatio),
      ],
      [
        "platform start",
        ms(r.empty.startMs),
        ms(r.full.startMs),
        x(ratio(r.full.startMs, r.empty.startMs)),
        "",
      ],
      [
        "restart to first event delivered",
        ms(r.empty.firstDeliveryMs),
        ms(r.full.firstDeliveryMs),
        x(ratio(r.full.firstDeliveryMs, r.empty.firstDeliveryMs)),
        "",
      ],
    ],
  );
  const notes = [
    `filled ${n} events in ${(r.fillMs / 1000).toFixed(1)} s (untimed)`,
    `history kept after start and runs: ${r.full.historyKept ? "yes" : "NO"}`,
    `dead-lettered ${r.empty.e2e.dead} / ${r.full.e2e.dead}`,
    `http errors ${r.empty.e2e.httpErrors} / ${r.full.e2e.httpErrors}`,
  ];
  if (r.empty.e2e.timedOut || r.full.e2e.timedOut) notes.push("TIMED OUT");
  console.log(notes.join(" | "));
  return {
    retained: {
      events: r.retained,
      fillMs: round(r.fillMs),
      ingest: {
        empty: round(r.empty.ingestEventsPerSec),
        full: round(r.full.ingestEventsPerSec),
        ratio: ingestRatio,
      },
      e2e: {
        empty: round(r.empty.e2e.e2eEventsPerSec),
        full: round(r.full.e2e.e2eEventsPerSec),
        ratio: e2eRatio,
      },
      startMs: { empty: round(r.empty.startMs), full: round(r.full.startMs) },
      firstDeliveryMs: { empty: round(r.empty.firstDeliveryMs), full: round(r.full.firstDeliveryMs) },
      historyKept: r.full.historyKept,
    },
  };
}

function knob(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

// `npx node bench/retained.ts` runs this section alone.
if (import.meta.main) {
  const watchdog = setTimeout(() => {
    console.error("bench/retained: still running after 15 min; giving up");
    process.exit(1);
  }, 900_000);
  watchdog.unref();
  const result = await runRetained({
    retained: knob("BENCH_RETAINED", 1_000_000),
    batches: knob("BENCH_E2E_BATCHES", 100),
    batchSize: Math.min(1000, knob("BENCH_BATCH_SIZE", 500)),
    concurrency: knob("BENCH_BATCH_CONCURRENCY", 8),
    timeoutMs: 60_000,
  });
  console.log(`\nBENCH_JSON ${JSON.stringify(reportRetained(result))}`);
}
