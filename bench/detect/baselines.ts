/**
 * The baselines printed next to each detector, on the same signals: a count per scope in fixed
 * windows against a static threshold, and the same count against its own EWMA ± kσ. Both are
 * streaming (a hit at the moment the window's count crosses the line), one hit per scope and window.
 */
import type { Hit } from "./score.ts";

export interface WindowRule {
  readonly name: string;
  /** Counts `n` at `at` for `scope`. */
  observe(scope: string, at: number, n?: number): void;
  readonly hits: Hit[];
}

interface Window {
  index: number;
  count: number;
  flagged: boolean;
}

/** A hit when one scope's count in one window reaches `threshold`. */
export function createStaticThreshold(name: string, windowMs: number, threshold: number): WindowRule {
  const windows = new Map<string, Window>();
  const hits: Hit[] = [];
  return {
    name,
    hits,
    observe(scope, at, n = 1) {
      const index = Math.floor(at / windowMs);
      let w = windows.get(scope);
      if (w === undefined || w.index !== index) {
        w = { index, count: 0, flagged: false };
        windows.set(scope, w);
      }
      w.count += n;
      if (!w.flagged && w.count >= threshold) {
        w.flagged = true;
        hits.push({ scope, at });
      }
    },
  };
}

export interface EwmaOptions {
  /** Weight of the newest window. @default 0.1 */
  alpha?: number;
  /** Standard deviations above the mean that make a hit. @default 3 */
  k?: number;
  /** Floor of σ (a scope that was always 0 otherwise alarms on its first event). @default 1 */
  minSigma?: number;
  /** Windows after `start` before any hit (the mean and variance settle). @default 60 */
  warmup?: number;
}

interface Ewma extends Window {
  mean: number;
  variance: number;
}

/**
 * A hit when one scope's count in the current window exceeds the EWMA of its past windows by k σ
 * (EWMA variance as in Finch 2009). A scope first seen later starts from a history of zero windows.
 */
export function createEwma(
  name: string,
  windowMs: number,
  start: number,
  options: EwmaOptions = {},
): WindowRule {
  const { alpha = 0.1, k = 3, minSigma = 1, warmup = 60 } = options;
  const states = new Map<string, Ewma>();
  const hits: Hit[] = [];
  const first = Math.floor(start / windowMs) + warmup;
  const update = (s: Ewma, x: number): void => {
    const diff = x - s.mean;
    const incr = alpha * diff;
    s.mean += incr;
    s.variance = (1 - alpha) * (s.variance + diff * incr);
  };
  return {
    name,
    hits,
    observe(scope, at, n = 1) {
      const index = Math.floor(at / windowMs);
      let s = states.get(scope);
      if (s === undefined) {
        s = { index, count: 0, flagged: false, mean: 0, variance: 0 };
        states.set(scope, s);
      }
      if (s.index !== index) {
        update(s, s.count);
        // Windows without an event are zeros; past a few hundred the state is at rest anyway.
        for (let i = Math.min(index - s.index - 1, 500); i > 0 && s.mean + s.variance > 1e-9; i--)
          update(s, 0);
        s.index = index;
        s.count = 0;
        s.flagged = false;
      }
      s.count += n;
      const line = s.mean + k * Math.max(Math.sqrt(s.variance), minSigma);
      if (!s.flagged && index >= first && s.count > line) {
        s.flagged = true;
        hits.push({ scope, at });
      }
    },
  };
}
