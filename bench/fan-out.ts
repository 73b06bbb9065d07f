/**
 * How cost grows with subscribers (issue 14): one event type subscribed by one function, then by 50,
 * each with a content filter of its own that every event passes, the same batched events sent to
 * both. Measured in deliveries settled per second of CPU (the platform process, which also runs the
 * client, plus every sandbox process), counted after a warm-up so start-up is left out. The aim:
 * 50 subscribers deliver at ≥ 0.8× a single subscriber's deliveries per CPU-second, i.e. fan-out
 * costs no more per delivery than one subscriber does (up to 20 %).
 *
 * Run alone: `npx node bench/fan-out.ts` (knobs FANOUT_FUNCTIONS (50), FANOUT_BATCHES (20),
 * FANOUT_BATCH_SIZE (100); FANOUT_TRACING=0 turns tracing and audit off).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openAppSecrets, startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { cpuAccount, totalCpu } from "./cpu-account.ts";
import { drained } from "./e2e-batch.ts";
import { BATCH_TYPE, batchBodies } from "./ingest.ts";
import { BENCH_KEY, drive } from "./load.ts";
import { printTable, ratio, round, perSecond as rps, sleep, times as x } from "./stats.ts";

export interface FanOutConfig {
  /** Subscribers of the type in the fan-out app. @default 50 */
  functions?: number;
  /** Timed batches sent to each app, their size and how many are in flight. */
  batches: number;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
  /** Tracing and audit on, as in dev and start. @default true */
  observability?: boolean;
}

/** One app's run: deliveries settled, in how long, for how much CPU. */
export interface FanOutSide {
  functions: number;
  events: number;
  /** Deliveries settled as delivered (events × functions when nothing failed). */
  deliveries: number;
  failed: number;
  wallMs: number;
  /** CPU seconds of the platform process (with the client) and of the sandboxes. */
  cpuSelfSec: number;
  cpuSandboxSec: number;
  deliveriesPerSec: number;
  deliveriesPerCpuSec: number;
  timedOut: boolean;
  httpErrors: number;
}

export interface FanOutResult {
  single: FanOutSide;
  fanOut: FanOutSide;
  /** fanOut.deliveriesPerCpuSec / single.deliveriesPerCpuSec; aim ≥ 0.8. */
  ratio: number;
  /** Whether CPU could be read per process (/proc); without it the ratio is 0. */
  measured: boolean;
}

export const FANOUT_TYPE = "fan.ping";

const SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["n"],
  additionalProperties: false,
  properties: { n: { type: "integer" } },
};

/**
 * Writes an app whose `functions` no-op functions all subscribe to `fan.ping`, function i with the
 * filter `n >= -i` (every event has n = 1, so each matches; no two filters are the same). Each runs
 * one warm process (concurrency 1), so none starts during the timed part. Returns the directory.
 */
export function createFanOutApp(functions: number): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-fanout-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "functions"));
  const fns = Array.from(
    { length: functions },
    (_, i) => `  f${i}:
    handler: functions/noop.ts
    on: [${FANOUT_TYPE}]
    filter: { data: { n: [{ numeric: [">=", ${-i}] }] } }
    limits: { concurrency: 1, minInstances: 1 }
`,
  );
  const manifest = `name: fanout${functions}
events:
  ${FANOUT_TYPE}: { schema: schemas/${FANOUT_TYPE}.json }
principals:
  bench:
    apiKey: { secret: BENCH_KEY }
    publish: [${FANOUT_TYPE}]
    rateLimit: { perSecond: 1000000, burst: 10000000 }
functions:
${fns.join("")}`;
  writeFileSync(join(dir, "palisade.yaml"), manifest);
  writeFileSync(join(dir, "schemas", `${FANOUT_TYPE}.json`), `${JSON.stringify(SCHEMA, null, 2)}\n`);
  writeFileSync(join(dir, "functions", "noop.ts"), "export default () => {};\n");
  openAppSecrets(dir).set("BENCH_KEY", BENCH_KEY);
  return dir;
}

/** Runs the single-subscriber app, then the fan-out app, on the same kind of events. */
export async function runFanOut(cfg: FanOutConfig): Promise<FanOutResult> {
  const single = await runSide(1, cfg);
  const fanOut = await runSide(cfg.functions ?? 50, cfg);
  const measured = single.deliveriesPerCpuSec > 0 && fanOut.deliveriesPerCpuSec > 0;
  return { single, fanOut, ratio: ratio(fanOut.deliveriesPerCpuSec, single.deliveriesPerCpuSec), measured };
}

async function runSide(functions: number, cfg: FanOutConfig): Promise<FanOutSide> {
  const appDir = createFanOutApp(functions);
  try {
    const warm = 4;
    const bodies = batchBodies(warm + cfg.batches, cfg.batchSize, FANOUT_TYPE);
    const at = (offset: number) => (i: number) => bodies[offset + i] ?? "";
    const opts = { contentType: BATCH_TYPE };
    const platform = await startPlatform({
      appDir,
      logger: createLogger({ level: "silent" }),
      port: 0,
      host: "127.0.0.1",
      tracing: cfg.observability ?? true,
    });
    try {
      const store = platform.store;
      const deadline = performance.now() + cfg.timeoutMs;
      // Warm-up: every sandbox has run, the JIT has seen the path; start-up CPU stays out.
      await drive(platform.url, warm, cfg.concurrency, at(0), opts);
      while (!(await drained(store)) && performance.now() < deadline) await sleep(5);
      const failedBefore = (await store.maintenance.stateCounts()).failed;
      const cpu = cpuAccount(undefined);
      const start = performance.now();
      const load = await drive(platform.url, cfg.batches, cfg.concurrency, at(warm), opts);
      let timedOut = false;
      while (!(await drained(store))) {
        if (performance.now() > start + cfg.timeoutMs) {
          timedOut = true;
          break;
        }
        await sleep(5);
      }
      const wallMs = performance.now() - start;
      const used = cpu.perEvent(1);
      const counts = await store.maintenance.stateCounts();
      const events = load.accepted * cfg.batchSize;
      const failed = counts.failed - failedBefore;
      const deliveries = events * functions - failed - counts.pending;
      const cpuSec = totalCpu(used) / 1e6;
      return {
        functions,
        events,
        deliveries,
        failed,
        wallMs,
        cpuSelfSec: (used?.self ?? 0) / 1e6,
        cpuSandboxSec: (used?.children ?? 0) / 1e6,
        deliveriesPerSec: (deliveries / wallMs) * 1000,
        deliveriesPerCpuSec: cpuSec === 0 ? 0 : deliveries / cpuSec,
        timedOut,
        httpErrors: load.errors,
      };
    } finally {
      await platform.close();
    }
  } finally {
    rmSync(appDir, { recursive: true, force: true });
  }
}

/** Prints the section; returns the JSON for BENCH_JSON. */
export function reportFanOut(r: FanOutResult): Record<string, unknown> {
  const { single, fanOut } = r;
  const cpuUs = (s: FanOutSide): string =>
    s.deliveries === 0 ? "" : (((s.cpuSelfSec + s.cpuSandboxSec) * 1e6) / s.deliveries).toFixed(0);
  const row = (name: string, s: FanOutSide, vs: string): string[] => [
    name,
    rps(s.deliveries),
    rps(s.deliveriesPerSec),
    `${s.cpuSelfSec.toFixed(2)} + ${s.cpuSandboxSec.toFixed(2)}`,
    cpuUs(s),
    rps(s.deliveriesPerCpuSec),
    vs,
  ];
  printTable(
    `Fan-out (${single.events} events in batches → 1 subscriber, then ${fanOut.functions} subscribers each with its own filter; CPU after warm-up; baseline = 1 subscriber)`,
    [
      "measure",
      "deliveries",
      "deliveries/s",
      "CPU s (platform + sandboxes)",
      "CPU µs/delivery",
      "deliveries/CPU-s",
      "vs baseline",
    ],
    [
      row("baseline: 1 subscriber", single, x(1)),
      row(`${fanOut.functions} subscribers`, fanOut, r.measured ? x(r.ratio) : "not measured"),
    ],
  );
  const problems = [single, fanOut].flatMap((s) => [
    ...(s.timedOut ? [`${s.functions} subscriber(s): TIMED OUT`] : []),
    ...(s.failed > 0 ? [`${s.functions} subscriber(s): ${s.failed} failed`] : []),
    ...(s.httpErrors > 0 ? [`${s.functions} subscriber(s): ${s.httpErrors} http errors`] : []),
  ]);
  console.log(
    r.measured
      ? `fan-out: ${fanOut.functions} subscribers deliver ${x(r.ratio)} a single subscriber's deliveries per CPU-second (aim ≥ 0.8×${r.ratio >= 0.8 ? "" : " — missed"})${problems.length > 0 ? ` | ${problems.join(" | ")}` : ""}`
      : "fan-out: CPU not measured (no /proc), no ratio",
  );
  const json = (s: FanOutSide) => ({
    ...s,
    wallMs: round(s.wallMs),
    cpuSelfSec: round(s.cpuSelfSec, 3),
    cpuSandboxSec: round(s.cpuSandboxSec, 3),
    deliveriesPerSec: round(s.deliveriesPerSec),
    deliveriesPerCpuSec: round(s.deliveriesPerCpuSec),
  });
  return { fanOut: { single: json(single), fanOut: json(fanOut), ratio: r.ratio, measured: r.measured } };
}

if (import.meta.main) {
  const knob = (name: string, fallback: number): number => {
    const value = Number(process.env[name] ?? fallback);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  const watchdog = setTimeout(() => {
    console.error("fan-out bench: still running after 300 s; giving up");
    process.exit(1);
  }, 300_000);
  watchdog.unref();
  reportFanOut(
    await runFanOut({
      functions: knob("FANOUT_FUNCTIONS", 50),
      batches: knob("FANOUT_BATCHES", 20),
      batchSize: knob("FANOUT_BATCH_SIZE", 100),
      concurrency: 4,
      timeoutMs: 120_000,
      observability: process.env.FANOUT_TRACING !== "0",
    }),
  );
}
