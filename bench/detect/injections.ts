/**
 * What a workload writes down as it injects: the order of its injections (the ladder, then the hard
 * negatives) and the ground-truth range each one covers, which the scores are computed against.
 */
import type { Range, RangeKind } from "./score.ts";

/** Each rung is injected this many times (the adaptive attacker once), at different times of the week. */
const REPS = 3;

/**
 * The injections in the order `slots` gives them start times: each rung REPS times (the adaptive
 * attacker once), then the hard negatives and other events named in `others`.
 */
export function planInjections<R extends { readonly kind: RangeKind }, N extends string>(
  rungs: readonly R[],
  ...others: N[]
): (R | N)[] {
  return [...rungs.flatMap((r) => (r.kind === "adaptive" ? [r] : Array<R>(REPS).fill(r))), ...others];
}

/** Adds a range of `length` ms from `start` on the scopes of `names`, and returns it. */
export type RecordRange = (
  rung: string,
  kind: RangeKind,
  start: number,
  length: number,
  names: string | readonly string[],
  belowPolicy?: boolean,
) => Range;

/** Records ground-truth ranges into `ranges`, each scope named `<prefix>:<name>` (`fn:charge`, `ip:10.0.0.7`). */
export function createRangeRecorder(ranges: Range[], prefix: "fn" | "ip"): RecordRange {
  return (rung, kind, start, length, names, belowPolicy = false) => {
    const scopes = (typeof names === "string" ? [names] : names).map((name) => `${prefix}:${name}`);
    const r: Range = { rung, kind, scopes: new Set(scopes), start, end: start + length, belowPolicy };
    ranges.push(r);
    return r;
  };
}
