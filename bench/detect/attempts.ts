/**
 * The attempts detectors 5 (cost drift) and 6 (outliers) judge: a week of attempts of six functions,
 * each with log-normal durations and event sizes, priced by the platform's own cost model
 * (`costOf` with DEFAULT_PRICES), plus the hard negatives both share and the ladder's injections.
 */
import { costOf, totalOf } from "../../src/cost/index.ts";
import { DEFAULT_PRICES, DEFAULT_RETRY } from "../../src/manifest/index.ts";
import { FLASH_FACTOR, flashCrowds, recordFlashCrowd } from "./flash-crowds.ts";
import { createRangeRecorder, planInjections, type RecordRange } from "./injections.ts";
import { createRng, type Rng } from "./rng.ts";
import type { Range, RangeKind } from "./score.ts";
import { arrivals, DAY, DAYS, END, HOUR, MINUTE, START, slots, spread } from "./traffic.ts";

export interface Profile {
  readonly fn: string;
  readonly perSecond: number;
  /** Median duration and its log-normal shape. */
  readonly durationMs: number;
  readonly durationSigma: number;
  readonly payloadBytes: number;
  readonly payloadSigma: number;
  readonly memoryMb: number;
  readonly egressBytes: number;
  /** Capability calls per attempt: `calls` ± 1. */
  readonly calls: number;
}

export const PROFILES: readonly Profile[] = [
  {
    fn: "checkout",
    perSecond: 0.15,
    durationMs: 40,
    durationSigma: 0.4,
    payloadBytes: 1200,
    payloadSigma: 0.3,
    memoryMb: 128,
    egressBytes: 2048,
    calls: 4,
  },
  {
    fn: "charge",
    perSecond: 0.14,
    durationMs: 120,
    durationSigma: 0.5,
    payloadBytes: 800,
    payloadSigma: 0.2,
    memoryMb: 128,
    egressBytes: 1024,
    calls: 3,
  },
  {
    fn: "notify",
    perSecond: 0.14,
    durationMs: 15,
    durationSigma: 0.3,
    payloadBytes: 600,
    payloadSigma: 0.3,
    memoryMb: 128,
    egressBytes: 0,
    calls: 2,
  },
  {
    fn: "mailer",
    perSecond: 0.3,
    durationMs: 60,
    durationSigma: 0.4,
    payloadBytes: 3000,
    payloadSigma: 0.6,
    memoryMb: 128,
    egressBytes: 512,
    calls: 2,
  },
  {
    fn: "report",
    perSecond: 2 / 3600,
    durationMs: 2000,
    durationSigma: 0.3,
    payloadBytes: 300,
    payloadSigma: 0.2,
    memoryMb: 256,
    egressBytes: 5_000_000,
    calls: 10,
  },
  {
    fn: "indexer",
    perSecond: 0,
    durationMs: 30,
    durationSigma: 0.3,
    payloadBytes: 8000,
    payloadSigma: 0.3,
    memoryMb: 128,
    egressBytes: 0,
    calls: 3,
  },
];

/** The functions an attack is injected into (busy enough to have a baseline within the day). */
export const VICTIMS = ["checkout", "charge", "notify", "mailer"] as const;
/** An attempt's time limit (DEFAULT_LIMITS.timeoutMs): what a failing attempt in an outage costs. */
const TIMEOUT_MS = 3000;

export interface Attempt {
  at: number;
  fn: string;
  attempt: number;
  durationMs: number;
  payloadBytes: number;
  egressBytes: number;
  calls: number;
  range?: Range;
  attacker?: boolean;
  /** Nano-dollars the attack added to this attempt. */
  extra?: number;
}

/** The price of an attempt, in nano-dollars, as the platform's cost meter computes it. */
export function priceOf(a: Attempt): number {
  const memoryMb = PROFILES.find((p) => p.fn === a.fn)?.memoryMb ?? 128;
  return totalOf(costOf(DEFAULT_PRICES, { ...a, memoryMb, capabilityCalls: a.calls }));
}

/** A function's mean price per attempt, estimated from 4,000 benign samples (a fixed stream). */
export function meanPrice(p: Profile): number {
  const r = createRng(7);
  let sum = 0;
  for (let i = 0; i < 4000; i++) sum += priceOf(sample(r, p, START));
  return sum / 4000;
}

export function sample(r: Rng, p: Profile, at: number): Attempt {
  return {
    at,
    fn: p.fn,
    attempt: 1,
    durationMs: r.lognormal(p.durationMs, p.durationSigma),
    // One mailer event in 2,000 carries an attachment (a PDF invoice): ×30, and legitimate.
    payloadBytes: Math.round(
      r.lognormal(p.payloadBytes, p.payloadSigma) * (p.fn === "mailer" && r.next() < 0.0005 ? 30 : 1),
    ),
    egressBytes: Math.round(r.lognormal(Math.max(1, p.egressBytes), 0.3)),
    calls: p.calls - 1 + r.int(3),
  };
}

export interface Rung {
  readonly label: string;
  readonly kind: RangeKind;
  /** Whether the rung is below the detector's policy for this victim. */
  readonly below?: (victim: Profile) => boolean;
  /** How long the injection lasts. */
  readonly length: number;
}

export interface AttemptWorkload {
  readonly attempts: Attempt[];
  readonly ranges: Range[];
}

/** Adds or changes attempts for an injected rung's `range` on `victim`. */
export type Inject = (r: Rng, rung: Rung, range: Range, victim: Profile, attempts: Attempt[]) => void;

/**
 * Benign attempts with the shared hard negatives (two flash crowds, two retry storms on charge, a
 * deploy that makes charge 30 % slower with one more call, the nightly indexer), and each rung
 * three times (the adaptive one once), on a different victim each time: `inject` adds or changes
 * attempts for its range.
 */
export function attemptWorkload(
  seed: number,
  label: string,
  rungs: readonly Rung[],
  inject: Inject,
): AttemptWorkload {
  const rng = createRng(seed).fork(label);
  const ranges: Range[] = [];
  const range = createRangeRecorder(ranges, "fn");
  const attempts: Attempt[] = [];
  const placed = place(rng, range, rungs, inject, attempts);
  addBenign(rng, range, placed, attempts);
  for (const run of placed.injections) run();
  attempts.sort((a, b) => a.at - b.at);
  return { attempts, ranges };
}

/** Where the hard negatives fell, and the rungs' injections (run once the benign attempts exist). */
interface Placed {
  readonly flash: number[];
  readonly outages: number[];
  readonly deployAt: number;
  readonly injections: (() => void)[];
}

/** Gives each injection its start time and records its range. */
function place(
  rng: Rng,
  range: RecordRange,
  rungs: readonly Rung[],
  inject: Inject,
  attempts: Attempt[],
): Placed {
  const flash: number[] = [];
  const outages: number[] = [];
  let deployAt = END;
  const plan = planInjections(rungs, "flash", "flash", "retry", "retry", "deploy");
  const longest = Math.max(...rungs.map((r) => r.length), 2 * HOUR);
  const starts = slots(rng.fork("slots"), plan.length, START + DAY + 2 * HOUR, END - longest, longest);
  const injections: (() => void)[] = [];
  plan.forEach((what, i) => {
    const at = starts[i] as number;
    if (what === "flash") {
      flash.push(at);
      recordFlashCrowd(range, at, VICTIMS);
    } else if (what === "retry") {
      outages.push(at);
      range("retry storm (charge times out 10 min)", "benign", at, 11 * MINUTE, "charge");
    } else if (what === "deploy") {
      deployAt = at;
      range("deploy (charge: +30 % time, +1 call)", "benign", at, 2 * HOUR, "charge");
    } else if (typeof what !== "string") {
      const victim = PROFILES.find((p) => p.fn === VICTIMS[i % VICTIMS.length]) as Profile;
      const rg = range(what.label, what.kind, at, what.length, victim.fn, what.below?.(victim) === true);
      injections.push(() => inject(rng.fork(`inject${i}`), what, rg, victim, attempts));
    }
  });
  return { flash, outages, deployAt, injections };
}

/** Every function's own attempts (charge changed by the deploy, retried in its outages) and the nightly indexer. */
function addBenign(rng: Rng, range: RecordRange, placed: Placed, attempts: Attempt[]): void {
  const { outages, deployAt } = placed;
  const busy = flashCrowds(placed.flash);
  for (const p of PROFILES) {
    const r = rng.fork(p.fn);
    for (const t of arrivals(r, START, END, p.perSecond, busy, FLASH_FACTOR)) {
      const a = sample(r, p, t);
      if (p.fn === "charge" && t >= deployAt) {
        a.durationMs *= 1.3;
        a.calls += 1;
      }
      attempts.push(a);
      if (p.fn !== "charge" || !outages.some((o) => t >= o && t < o + 10 * MINUTE)) continue;
      a.durationMs = TIMEOUT_MS; // each attempt times out, then is retried with backoff
      for (let n = 2, wait = 0; n <= DEFAULT_RETRY.attempts; n++) {
        wait += DEFAULT_RETRY.initialDelayMs * 2 ** (n - 2);
        attempts.push({ ...a, at: t + wait + (n - 1) * TIMEOUT_MS, attempt: n });
      }
    }
  }
  const indexer = PROFILES.find((p) => p.fn === "indexer") as Profile;
  for (let day = 0; day < DAYS; day++) {
    const at = START + day * DAY + 2 * HOUR;
    range("cron spike (nightly: 500 items)", "benign", at, 10 * MINUTE, "indexer");
    const r = rng.fork(`cron${day}`);
    for (const t of spread(r, 500, at, 2 * MINUTE)) attempts.push(sample(r, indexer, t));
  }
}
