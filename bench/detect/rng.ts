/**
 * A seeded pseudo-random generator (mulberry32) and the distributions the workloads draw from. Each
 * part of a workload forks its own stream by name, so adding a part never shifts the others' draws.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Exponential with `rate` per unit (the gap of a Poisson process). */
  exp(rate: number): number;
  /** Poisson-distributed count with mean `mean` (Knuth's method; means here are small). */
  poisson(mean: number): number;
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Log-normal with median `median` and shape `sigma`. */
  lognormal(median: number, sigma: number): number;
  /** An independent stream named `label`, derived from this one's seed. */
  fork(label: string): Rng;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    exp: (rate) => -Math.log(1 - next()) / rate,
    poisson(mean) {
      const limit = Math.exp(-mean);
      let k = 0;
      for (let p = next(); p > limit; p *= next()) k += 1;
      return k;
    },
    pick(items) {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error("Cannot pick from an empty list");
      return item;
    },
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
    lognormal: (median, sigma) => median * Math.exp(sigma * rng.normal()),
    fork: (label) => createRng(hash32(`${seed}/${label}`)),
  };
  return rng;
}

/** FNV-1a of `text`: stable seeds and per-key draws that do not depend on draw order. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A uniform draw in [0, 1) fixed by `key` (the same delivery gets the same duration in every run). */
export function unitOf(key: string): number {
  let h = hash32(key);
  // A murmur3 finalizer spreads FNV's low-entropy high bits.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
}
