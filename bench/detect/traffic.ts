/** Simulated time and benign traffic shapes: Poisson arrivals whose rate follows the time of day. */
import type { Rng } from "./rng.ts";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Simulated days of benign traffic per detector. */
export const DAYS = 7;
/** Simulated time starts on a Monday, 00:00 UTC (nothing depends on the real clock). */
export const START = Date.UTC(2026, 0, 5);
export const END = START + DAYS * DAY;

/** The daily shape: 0.4× at 03:00, 1.6× at 15:00, mean 1 over a day. */
export function dailyShape(t: number): number {
  const hour = ((t - START) % DAY) / HOUR;
  return 1 + 0.6 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
}

/**
 * Arrival times in [from, to) of a Poisson process of `perSecond` × the daily shape (× `factor(t)`,
 * at most `maxFactor`), by thinning a homogeneous process at the peak rate.
 */
export function arrivals(
  rng: Rng,
  from: number,
  to: number,
  perSecond: number,
  factor: (t: number) => number = () => 1,
  maxFactor = 1,
): number[] {
  const peak = perSecond * 1.6 * maxFactor;
  const out: number[] = [];
  for (let t = from + rng.exp(peak) * SECOND; t < to; t += rng.exp(peak) * SECOND)
    if (rng.next() * peak < perSecond * dailyShape(t) * factor(t)) out.push(t);
  return out;
}

/** Arrival times in [from, to) of a Poisson process of a constant `perSecond` (an attacker's pace). */
export function steady(rng: Rng, from: number, to: number, perSecond: number): number[] {
  const out: number[] = [];
  for (let t = from + rng.exp(perSecond) * SECOND; t < to; t += rng.exp(perSecond) * SECOND) out.push(t);
  return out;
}

/**
 * Start times of `n` injections of `length` ms in [from, to): the span cut into `n` slots, one start
 * drawn in each slot (so injections never overlap), then shuffled among the rungs.
 */
export function slots(rng: Rng, n: number, from: number, to: number, length: number): number[] {
  const slot = (to - from) / n;
  if (slot <= length) throw new Error(`Cannot place ${n} injections of ${length} ms in ${to - from} ms`);
  const starts = Array.from({ length: n }, (_, i) =>
    Math.round(from + i * slot + rng.next() * (slot - length)),
  );
  for (let i = starts.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [starts[i], starts[j]] = [starts[j] as number, starts[i] as number];
  }
  return starts;
}

/** Spread `n` times evenly with jitter over [from, from + span). */
export function spread(rng: Rng, n: number, from: number, span: number): number[] {
  return Array.from({ length: n }, (_, i) => from + ((i + rng.next()) * span) / n);
}
