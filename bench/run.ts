/**
 * Palisade benchmark (not a test): `npm run bench`. Every number is printed next to a baseline
 * measured in the same run, with the machine's core count and Node version, so results from
 * different machines are compared as ratios. Talks to 127.0.0.1 only; bounded by a watchdog.
 * Peers measured in the same run: BullMQ on the machine's Redis (127.0.0.1:6379; the section says so
 * when it is absent) and raw JetStream on a nats-server the bench starts (PALISADE_NATS_SERVER picks
 * the binary; use nats-server >= 2.10).
 *
 * Knobs (environment): BENCH_EVENTS (2000), BENCH_CONCURRENCY (64), BENCH_INVOKES (2000),
 * BENCH_INGEST (5000 single-event ingest requests), BENCH_BATCHES (200), BENCH_BATCH_SIZE (500, at most
 * 1000), BENCH_BATCH_CONCURRENCY (8), BENCH_E2E_BATCHES (100 batches end to end), BENCH_LATENCY_RATES (500,2000 events/s, offered open loop) and
 * BENCH_LATENCY_SECONDS (3 per rate), BENCH_RETAINED (1000000 events already in the log), BENCH_SLOW_CONCURRENCY (4: a NATS worker's concurrency in the scaling measure).
 */
import { rmSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { detectOsLayer } from "../src/runtime/index.ts";
import { runBullmq } from "./bullmq-peer.ts";
import { reportCliStart, runCliStart } from "./cli-start.ts";
import { formatCpu } from "./cpu-account.ts";
import { reportDashboard, runDashboardCost } from "./dashboard.ts";
import { runDispatch } from "./dispatch.ts";
import { createBenchApp, runBaseline, runPalisade } from "./e2e.ts";
import { runBatchE2e } from "./e2e-batch.ts";
import { runEventSizes } from "./event-size.ts";
import { reportFanOut, runFanOut } from "./fan-out.ts";
import { reportFloors, runFloors } from "./floors.ts";
import { type IngestConfig, runIngest } from "./ingest.ts";
import { reportIngestFloor, runIngestFloor } from "./ingest-floor.ts";
import { reportIngest } from "./ingest-report.ts";
import { runCapability, runColdStart, runInvoke } from "./invoke.ts";
import { type LatencyConfig, runLatency } from "./latency.ts";
import { reportLatencyFloor, runLatencyFloor } from "./latency-floor.ts";
import { reportLatency } from "./latency-report.ts";
import { reportManyFunctions, runManyFunctions } from "./many-functions.ts";
import { runNatsBench, SLOW_CONCURRENCY } from "./nats.ts";
import { reportRetained, runRetained } from "./retained.ts";
import { reportSignedIngest, runSignedIngest } from "./signed-ingest.ts";
import { printTable, ratio, round, perSecond as rps, times as x } from "./stats.ts";

function knob(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const EVENTS = knob("BENCH_EVENTS", 2000);
const CONCURRENCY = knob("BENCH_CONCURRENCY", 64);
const INVOKES = knob("BENCH_INVOKES", 2000);
const INGEST: IngestConfig = {
  requests: knob("BENCH_INGEST", 5000),
  concurrency: CONCURRENCY,
  warmup: 500,
  batches: knob("BENCH_BATCHES", 200),
  batchSize: Math.min(1000, knob("BENCH_BATCH_SIZE", 500)),
  batchConcurrency: knob("BENCH_BATCH_CONCURRENCY", 8),
  batchWarmup: 20,
};
const LATENCY: LatencyConfig = {
  rates: (process.env.BENCH_LATENCY_RATES ?? "500,2000").split(",").map((r) => {
    const rate = Number(r);
    if (!Number.isInteger(rate) || rate <= 0)
      throw new Error("BENCH_LATENCY_RATES must be positive integers");
    return rate;
  }),
  seconds: knob("BENCH_LATENCY_SECONDS", 3),
  drainMs: 20_000,
  sockets: 256,
  warmup: 200,
  warmupSeconds: 0.5,
};
const E2E_BATCHES = knob("BENCH_E2E_BATCHES", 100);
const RETAINED = knob("BENCH_RETAINED", 1_000_000);
const HTTP_WARMUP = Math.min(500, EVENTS);
const INVOKE_WARMUP = Math.min(200, INVOKES);
const DELIVERY_TIMEOUT_MS = 30_000;
// The retained-history section fills a million-event log first (two to four minutes on 2 cores).
const WATCHDOG_MS = 1_800_000;

const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${WATCHDOG_MS / 1000} s; giving up`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const machine = {
  cores: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
console.log(
  `palisade bench — node ${machine.node}, ${machine.cores} cores (${machine.cpu}), ${machine.platform}`,
);
console.log(
  `events=${EVENTS} concurrency=${CONCURRENCY} invokes=${INVOKES} ingest=${INGEST.requests}` +
    ` batches=${INGEST.batches}x${INGEST.batchSize} batchConcurrency=${INGEST.batchConcurrency}` +
    ` latencyRates=${LATENCY.rates.join(",")}x${LATENCY.seconds}s`,
);

const appDir = createBenchApp();
try {
  const baseline = await runBaseline(EVENTS, CONCURRENCY, HTTP_WARMUP);
  const pal = await runPalisade(appDir, EVENTS, CONCURRENCY, HTTP_WARMUP, DELIVERY_TIMEOUT_MS);
  const ing = await runIngest(appDir, INGEST);
  const ingFloor = await runIngestFloor(INGEST.requests, INGEST.concurrency, INGEST.warmup);
  // Producer signatures: the same single-event ingest, signed (verified at the gateway) and not.
  const signed = await runSignedIngest(INGEST.requests, INGEST.concurrency, INGEST.warmup);
  const inv = await runInvoke(appDir, INVOKES, INVOKE_WARMUP);
  const cap = await runCapability(appDir, 50, 200);
  const cold = await runColdStart(appDir, 10);
  const lat = await runLatency(LATENCY);
  // The same sender and rates against bare Fastify and the pipeline Palisade cannot leave out.
  const latFloor = await runLatencyFloor(LATENCY);
  const disp = await runDispatch(5000, [2, 16]);
  const e2eConfig = {
    batches: E2E_BATCHES,
    batchSize: INGEST.batchSize,
    concurrency: INGEST.batchConcurrency,
    timeoutMs: DELIVERY_TIMEOUT_MS,
  };
  // Encryption at rest off, then on (the default), on fresh apps: the ratio is its cost.
  const plainApp = createBenchApp();
  const e2ePlain = await runBatchE2e(plainApp, { ...e2eConfig, encryptAtRest: false }).finally(() =>
    rmSync(plainApp, { recursive: true, force: true }),
  );
  const quietApp = createBenchApp();
  const e2eQuiet = await runBatchE2e(quietApp, { ...e2eConfig, observability: false }).finally(() =>
    rmSync(quietApp, { recursive: true, force: true }),
  );
  const e2eBatch = await runBatchE2e(appDir, e2eConfig);
  // The BullMQ peer: as many no-op jobs, in bulk adds of the same size, on the machine's Redis.
  const bullmq = await runBullmq(E2E_BATCHES, INGEST.batchSize, INGEST.batchConcurrency);

  printTable(
    `Throughput (${EVENTS} events, ${CONCURRENCY} in flight; baseline = bare Fastify 202)`,
    ["measure", "events/s", "vs baseline"],
    [
      ["baseline: bare Fastify POST /events", rps(baseline.rps), x(1)],
      ["palisade accepted (durable 202)", rps(pal.acceptedRps), x(ratio(pal.acceptedRps, baseline.rps))],
      ["palisade end-to-end (delivered)", rps(pal.e2eRps), x(ratio(pal.e2eRps, baseline.rps))],
    ],
  );
  console.log(
    `group commit (appends+routes+settle batches): ${pal.writes} writes in ${pal.commits} commits = ${pal.writesPerCommit.toFixed(2)} writes/commit` +
      ` | delivered ${pal.delivered}/${EVENTS}, failed ${pal.failed}` +
      ` | http errors: baseline ${baseline.load.errors}, palisade ${pal.load.errors}${pal.timedOut ? " | TIMED OUT" : ""}`,
  );
  if (pal.load.firstError) console.log(`first palisade error: ${pal.load.firstError}`);
  printTable(
    `End-to-end with batching (${e2eBatch.events} events in batches of ${INGEST.batchSize}, ${INGEST.batchConcurrency} in flight → noop function, concurrency 2; baseline = bare Fastify 202 on the same batches)`,
    ["measure", "events/s", "vs baseline"],
    [
      ["baseline: bare Fastify POST /events", rps(e2eBatch.baselineEventsPerSec), x(1)],
      [
        "palisade accepted (durable 202)",
        rps(e2eBatch.acceptedEventsPerSec),
        x(ratio(e2eBatch.acceptedEventsPerSec, e2eBatch.baselineEventsPerSec)),
      ],
      [
        "palisade end-to-end (all settled)",
        rps(e2eBatch.e2eEventsPerSec),
        x(ratio(e2eBatch.e2eEventsPerSec, e2eBatch.baselineEventsPerSec)),
      ],
      [
        `peer: BullMQ no-op jobs (Redis without persistence, concurrency ${INGEST.batchConcurrency})`,
        "jobsPerSec" in bullmq ? rps(bullmq.jobsPerSec) : "absent",
        "jobsPerSec" in bullmq ? x(ratio(bullmq.jobsPerSec, e2eBatch.baselineEventsPerSec)) : "",
      ],
    ],
  );
  console.log(
    "jobsPerSec" in bullmq
      ? `palisade end to end = ${x(ratio(e2eBatch.e2eEventsPerSec, bullmq.jobsPerSec))} BullMQ in the same run (aim ≥ 3×${ratio(e2eBatch.e2eEventsPerSec, bullmq.jobsPerSec) >= 3 ? "" : " — missed"})`
      : bullmq.absent,
  );
  console.log(
    `end-to-end with batching: ${rps(e2eBatch.e2eEventsPerSec)} events/s (aim ≥ 25,000 on 2 cores${e2eBatch.e2eEventsPerSec >= 25_000 ? "" : " — missed"})` +
      ` | dead-lettered ${e2eBatch.dead} | http errors ${e2eBatch.httpErrors}${e2eBatch.timedOut ? " | TIMED OUT" : ""}`,
  );
  const encryptionRatio = ratio(e2eBatch.e2eEventsPerSec, e2ePlain.e2eEventsPerSec);
  console.log(
    `encryption at rest: end to end ${rps(e2eBatch.e2eEventsPerSec)} events/s sealed vs ${rps(e2ePlain.e2eEventsPerSec)} unsealed = ${x(encryptionRatio)} (aim ≥ 0.9×)`,
  );
  const observabilityRatio = ratio(e2eBatch.e2eEventsPerSec, e2eQuiet.e2eEventsPerSec);
  console.log(
    `tracing: end to end ${rps(e2eBatch.e2eEventsPerSec)} events/s traced vs ${rps(e2eQuiet.e2eEventsPerSec)} untraced = ${x(observabilityRatio)} (aim ≥ 0.9×)`,
  );
  // One dashboard left open (live stream + overview polls, in its own process) against none.
  console.log(reportDashboard(await runDashboardCost(e2eConfig)));
  // A fresh app: the large events stay out of the log the later sections use.
  const sizeApp = createBenchApp();
  const sizes = await runEventSizes(sizeApp, DELIVERY_TIMEOUT_MS).finally(() =>
    rmSync(sizeApp, { recursive: true, force: true }),
  );
  printTable(
    "Event size (single-event requests, 16 in flight; end to end = settled by the sandboxed noop; baseline = bare Fastify 202 of the same bodies)",
    ["size", "events", "bare MB/s", "palisade accepted MB/s", "palisade end to end MB/s", "vs bare"],
    sizes.map((r) => [
      `${Math.round(r.bytes / 1024)} KB`,
      String(r.events),
      r.bareMBps.toFixed(1),
      r.acceptedMBps.toFixed(1),
      `${r.e2eMBps.toFixed(1)}${r.timedOut ? " (TIMED OUT)" : ""}`,
      x(ratio(r.e2eMBps, r.bareMBps)),
    ]),
  );
  // How cost grows with history: the same on a log already holding BENCH_RETAINED delivered events.
  const retainedJson = reportRetained(
    await runRetained({
      retained: RETAINED,
      batches: E2E_BATCHES,
      batchSize: INGEST.batchSize,
      concurrency: INGEST.batchConcurrency,
      timeoutMs: 60_000,
    }),
  );
  // How cost grows with subscribers: one type for 1 and for 50 filtered functions, per CPU-second.
  const fanOutJson = reportFanOut(
    await runFanOut({
      functions: 50,
      batches: 20,
      batchSize: 100,
      concurrency: 4,
      timeoutMs: DELIVERY_TIMEOUT_MS,
    }),
  );
  // How cost grows with the functions deployed: 50 more that receive nothing, per event.
  const manyFunctionsJson = reportManyFunctions(await runManyFunctions(50, 4000, DELIVERY_TIMEOUT_MS));
  // The program itself: --version, --help and send to a running app, against a bare Node start.
  const cliStart = await runCliStart(appDir);
  reportCliStart(cliStart);
  printTable(
    "Delivery engine alone (5000 events in the log, no-op invoke in process: routing, state, settles on SQLite)",
    ["concurrency", "events/s", "deliveries/commit"],
    disp.map((d) => [String(d.concurrency), rps(d.eventsPerSec), d.deliveriesPerCommit.toFixed(1)]),
  );

  const signedJson = reportSignedIngest(signed);
  const ingestJson = reportIngest(ing, INGEST);
  const ingestFloorJson = reportIngestFloor(
    ingFloor,
    ratio(ing.single.palisade.rps, ing.single.baseline.rps),
  );

  const us = (n: number): string => n.toFixed(1);
  const overheadUs = inv.sandbox.meanUs - inv.direct.meanUs;
  printTable(
    `Warm invoke (${INVOKES} sequential calls of a noop handler; baseline = in-process await)`,
    ["measure", "mean µs", "p50 µs", "p99 µs"],
    [
      ["baseline: direct await", us(inv.direct.meanUs), us(inv.direct.p50Us), us(inv.direct.p99Us)],
      ["sandbox pool.invoke", us(inv.sandbox.meanUs), us(inv.sandbox.p50Us), us(inv.sandbox.p99Us)],
    ],
  );
  console.log(
    `sandbox/direct = ${x(ratio(inv.sandbox.meanUs, inv.direct.meanUs, 1))} (mean); overhead ${us(overheadUs)} µs per invoke`,
  );

  const os = detectOsLayer();
  printTable(
    `Sandbox costs (${os.active ? "permission model + bubblewrap" : "permission model only"}; aims on 2 cores: warm invoke p50 ≤ 300 µs, capability call p99 ≤ 100 µs, cold start p50 ≤ 100 ms)`,
    ["measure", "p50", "p99", "baseline (in-process)"],
    [
      [
        "warm invoke (noop, host-measured round trip)",
        `${us(inv.sandbox.p50Us)} µs`,
        `${us(inv.sandbox.p99Us)} µs`,
        `${us(inv.direct.p50Us)} µs`,
      ],
      [
        "capability call (ctx.secrets.get, function-measured)",
        `${us(cap.sandbox.p50Us)} µs`,
        `${us(cap.sandbox.p99Us)} µs`,
        `${us(cap.direct.p50Us)} µs`,
      ],
      [
        "cold start of one instance (spawn → bundle loaded)",
        `${(cold.p50Us / 1000).toFixed(1)} ms`,
        `${(cold.p99Us / 1000).toFixed(1)} ms`,
        "",
      ],
    ],
  );
  if (!os.active) console.log(os.description);

  const latencyJson = reportLatency(lat, LATENCY, machine.cores);
  const latencyFloorJson = reportLatencyFloor(latFloor, lat);

  // What the hardware allows for the pieces of the hot paths, and Palisade's share of it.
  const floors = await runFloors();
  reportFloors(floors, {
    batchIngest: ing.batch.palisade.eventsPerSec,
    e2eBatch: e2eBatch.e2eEventsPerSec,
    warmInvokeP50Us: inv.sandbox.p50Us,
    coldStartP50Us: cold.p50Us,
  });

  // NATS mode next to raw JetStream, and 1 vs 2 workers on a 5 ms handler (issue 13's aims).
  const natsApps: string[] = [];
  const newApp = () => {
    const dir = createBenchApp();
    natsApps.push(dir);
    return dir;
  };
  const nats = await runNatsBench(newApp(), newApp, e2eConfig).finally(() => {
    for (const dir of natsApps) rmSync(dir, { recursive: true, force: true });
  });
  const natsRatio = ratio(nats.e2ePerSec, nats.rawE2ePerSec);
  const scaling = ratio(nats.twoWorkersPerSec, nats.oneWorkerPerSec);
  printTable(
    `NATS JetStream mode (${e2eConfig.batches} batches of ${e2eConfig.batchSize}; baseline = nats.js publish + consume/ack of as many 400-byte messages)`,
    ["measure", "events/s", "vs baseline"],
    [
      ["baseline: raw JetStream publish", rps(nats.rawPublishPerSec), ""],
      ["baseline: raw JetStream publish + consume + ack", rps(nats.rawE2ePerSec), x(1)],
      [
        "palisade accepted (202 after JetStream ack)",
        rps(nats.acceptedPerSec),
        x(ratio(nats.acceptedPerSec, nats.rawE2ePerSec)),
      ],
      ["palisade end-to-end on NATS (all settled)", rps(nats.e2ePerSec), x(natsRatio)],
      [
        "same, gateway and worker as separate processes",
        rps(nats.processesPerSec),
        x(ratio(nats.processesPerSec, nats.rawE2ePerSec)),
      ],
      [
        `1 worker process, 5 ms handler, concurrency ${SLOW_CONCURRENCY} (${nats.scalingEvents} events)`,
        rps(nats.oneWorkerPerSec),
        x(1),
      ],
      ["2 worker processes, 5 ms handler", rps(nats.twoWorkersPerSec), x(scaling)],
    ],
  );
  console.log(
    `NATS end to end ${x(natsRatio)} raw JetStream (aim ≥ 0.7×${natsRatio >= 0.7 ? "" : " — missed"}); 2 workers ${x(scaling)} 1 worker (aim ≥ 1.6×${scaling >= 1.6 ? "" : " — missed"})${nats.timedOut ? " | TIMED OUT" : ""}`,
  );
  console.log(`measured under: ${nats.durability}`);
  console.log(
    `CPU per event end to end: raw ${formatCpu(nats.rawCpuPerMsg, ["client", "nats-server", ""])}; palisade ${formatCpu(nats.cpuPerEvent, ["platform", "nats-server", "sandboxes"])}`,
  );

  const result = {
    machine,
    config: {
      events: EVENTS,
      concurrency: CONCURRENCY,
      invokes: INVOKES,
      httpWarmup: HTTP_WARMUP,
      invokeWarmup: INVOKE_WARMUP,
      ingest: INGEST,
    },
    throughput: {
      baselineRps: round(baseline.rps),
      acceptedRps: round(pal.acceptedRps),
      e2eRps: round(pal.e2eRps),
      acceptedRatio: ratio(pal.acceptedRps, baseline.rps),
      e2eRatio: ratio(pal.e2eRps, baseline.rps),
      e2eMs: round(pal.e2eMs),
      delivered: pal.delivered,
      failed: pal.failed,
      timedOut: pal.timedOut,
      httpErrors: { baseline: baseline.load.errors, palisade: pal.load.errors },
      groupCommit: {
        commits: pal.commits,
        writes: pal.writes,
        writesPerCommit: round(pal.writesPerCommit, 2),
      },
    },
    ...ingestJson,
    ...signedJson,
    ...ingestFloorJson,
    invoke: {
      sandbox: inv.sandbox,
      direct: inv.direct,
      meanRatio: ratio(inv.sandbox.meanUs, inv.direct.meanUs, 1),
      overheadUs: round(overheadUs, 1),
    },
    capability: cap,
    coldStart: cold,
    osLayer: os.active,
    ...latencyJson,
    ...latencyFloorJson,
    e2eBatch: {
      ...e2eBatch,
      baselineEventsPerSec: round(e2eBatch.baselineEventsPerSec),
      acceptedEventsPerSec: round(e2eBatch.acceptedEventsPerSec),
      e2eEventsPerSec: round(e2eBatch.e2eEventsPerSec),
      bullmqJobsPerSec: "jobsPerSec" in bullmq ? round(bullmq.jobsPerSec) : null,
    },
    eventSizes: sizes.map((r) => ({
      ...r,
      bareMBps: round(r.bareMBps),
      acceptedMBps: round(r.acceptedMBps),
      e2eMBps: round(r.e2eMBps),
    })),
    observability: {
      on: round(e2eBatch.e2eEventsPerSec),
      off: round(e2eQuiet.e2eEventsPerSec),
      ratio: observabilityRatio,
    },
    encryption: {
      sealed: round(e2eBatch.e2eEventsPerSec),
      unsealed: round(e2ePlain.e2eEventsPerSec),
      ratio: encryptionRatio,
    },
    dispatch: disp.map((d) => ({ ...d, eventsPerSec: round(d.eventsPerSec) })),
    nats: { ...nats, e2eRatio: natsRatio, scaling },
    floors,
    ...fanOutJson,
    ...manyFunctionsJson,
    ...retainedJson,
    cliStart,
  };
  console.log(`\nBENCH_JSON ${JSON.stringify(result)}`);
} finally {
  rmSync(appDir, { recursive: true, force: true });
}
