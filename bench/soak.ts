/**
 * `npm run bench:soak` (issue 14): minutes at 80 % of the measured maximum end-to-end rate of
 * single-event requests, everything on. Verdicts: resident memory flat within 10 %, p99 stable,
 * nothing lost (rules in bench/soak-verdicts.ts); writes an SVG of throughput, p99 and RSS over time.
 * Talks to 127.0.0.1 only; bounded by a watchdog.
 *
 * Knobs (environment): BENCH_SOAK_SECONDS (600), BENCH_SOAK_WARMUP_SECONDS (at least 60; a quarter
 * of a run shorter than 240 s), BENCH_SOAK_WARMUP_EVENTS (150,000: the warm-up also lasts until so
 * many events were accepted, probe included, at most half the run; by then the platform's bounded cache
 * of the 65,536 most recent events (src/bus/recent-events.ts) is full and the sandboxes' V8 heaps have
 * grown to their steady size, which took 100,000–150,000 invocations in the development runs),
 * BENCH_SOAK_INTERVAL_SECONDS (10), BENCH_SOAK_LOAD (0.8 of the maximum), BENCH_SOAK_PROBE_SECONDS
 * (15, the closed-loop run that measures the maximum), BENCH_SOAK_PROBE_CONCURRENCY (64), BENCH_SOAK_RATE (events/s: skip the probe and offer this),
 * BENCH_SOAK_SVG (./bench-soak.svg).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { reportSoak } from "./soak-report.ts";
import { runSoak, type SoakConfig } from "./soak-run.ts";
import { writeSoakSvg } from "./soak-svg.ts";

export { reportSoak } from "./soak-report.ts";
export { runSoak, type SoakConfig, type SoakResult } from "./soak-run.ts";
export { writeSoakSvg } from "./soak-svg.ts";

function knob(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** The soak's configuration from the environment (knobs above). */
export function soakConfigFromEnv(): SoakConfig {
  const seconds = Math.round(knob("BENCH_SOAK_SECONDS", 600));
  const intervalSeconds = knob("BENCH_SOAK_INTERVAL_SECONDS", 10);
  // A warm-up of whole intervals: 60 s, or about a quarter of a short run.
  const shortWarmup = Math.max(1, Math.round(seconds / 4 / intervalSeconds)) * intervalSeconds;
  const warmupSeconds = knob("BENCH_SOAK_WARMUP_SECONDS", seconds >= 240 ? 60 : shortWarmup);
  const rate = process.env.BENCH_SOAK_RATE === undefined ? undefined : knob("BENCH_SOAK_RATE", 1);
  return {
    seconds,
    warmupSeconds,
    warmupEvents: Math.round(knob("BENCH_SOAK_WARMUP_EVENTS", 150_000)),
    intervalSeconds,
    load: knob("BENCH_SOAK_LOAD", 0.8),
    probeSeconds: knob("BENCH_SOAK_PROBE_SECONDS", 15),
    probeWorkers: Math.round(knob("BENCH_SOAK_PROBE_CONCURRENCY", 64)),
    ...(rate === undefined ? {} : { rate }),
    sockets: 256,
    drainMs: 60_000,
  };
}

async function main(): Promise<void> {
  const cfg = soakConfigFromEnv();
  const svgPath = resolve(process.env.BENCH_SOAK_SVG ?? "bench-soak.svg");
  // Start-up, probe, load, drain and the store check, with a generous margin.
  const watchdogMs = (cfg.probeSeconds + cfg.seconds + cfg.drainMs / 1000) * 1500 + 300_000;
  const watchdog = setTimeout(() => {
    console.error(`bench:soak: still running after ${Math.round(watchdogMs / 1000)} s; giving up`);
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();
  console.log(
    `palisade soak — node ${process.version}; ${cfg.seconds} s at ${cfg.rate ?? `${cfg.load} × the measured maximum`}` +
      ` events/s, ${cfg.intervalSeconds} s intervals, warm-up ≥ ${cfg.warmupSeconds} s and ≥ ${cfg.warmupEvents} events (≤ half the run)`,
  );
  const result = await runSoak(cfg, (line) => console.log(line));
  const json = reportSoak(result);
  writeSoakSvg(result, svgPath);
  console.log(`\nplot (throughput, p99 and RSS over time): ${svgPath}`);
  console.log(`\nBENCH_SOAK_JSON ${JSON.stringify(json)}`);
  clearTimeout(watchdog);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
