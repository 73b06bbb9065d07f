/**
 * The soak's three verdicts, each with its rule written out (printed next to the verdict):
 * - RSS flat: the intervals after the warm-up in thirds; the mean RSS of the last third is at most
 *   1.1× that of the first third. Means over thirds, not single samples: the platform's RSS follows
 *   its V8 heap's garbage-collection sawtooth (tens of MB up, then down), which is not growth. The
 *   sandboxes' summed RSS is judged separately by the same rule; the platform's live heap (lowest
 *   1 s sample of each third) is printed next to it, where a leak would show.
 * - p99 stable: the intervals after the warm-up in thirds; the median interval p99 of the last third
 *   is at most 2× that of the first third.
 * - nothing lost: every request answered 202, and every accepted id (probe and soak) has a settled
 *   `delivered` line and, in the store, deliveries that are all `delivered`; none pending or
 *   dead-lettered at the end.
 */
import type { IntervalStats } from "./soak-intervals.ts";
import type { SoakResult } from "./soak-run.ts";
import { ratio } from "./stats.ts";

export const RSS_TOLERANCE = 0.1;
export const P99_FACTOR = 2;

export interface Verdict {
  ok: boolean;
  /** False when the run was too short to judge (then `ok` is false too). */
  judged: boolean;
  rule: string;
  detail: string;
}

export interface SoakVerdicts {
  rss: Verdict;
  sandboxRss: Verdict;
  p99: Verdict;
  lost: Verdict;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

const after = (r: SoakResult): IntervalStats[] => r.intervals.filter((i) => i.fromS >= r.warmupSeconds);

/** The first and last thirds of the intervals after the warm-up (undefined when fewer than 3). */
function thirds(xs: readonly IntervalStats[]): [IntervalStats[], IntervalStats[]] | undefined {
  if (xs.length < 3) return undefined;
  const n = Math.ceil(xs.length / 3);
  return [xs.slice(0, n), xs.slice(-n)];
}

const meanOf = (xs: readonly IntervalStats[], f: (i: IntervalStats) => number): number =>
  xs.reduce((s, i) => s + f(i), 0) / Math.max(1, xs.length);

function flat(name: string, r: SoakResult, f: (i: IntervalStats) => number, note: string): Verdict {
  const rule = `after the ${r.warmupSeconds} s warm-up, mean RSS of the last third ≤ ${1 + RSS_TOLERANCE}× the mean of the first third`;
  const parts = thirds(after(r));
  if (parts === undefined)
    return { ok: false, judged: false, rule, detail: `${name}: fewer than 3 intervals after warm-up` };
  const [first, last] = parts.map((p) => meanOf(p, f)) as [number, number];
  const all = after(r).map(f);
  return {
    ok: last <= first * (1 + RSS_TOLERANCE),
    judged: true,
    rule,
    detail:
      `${name}: first third ${first.toFixed(1)} MB, last third ${last.toFixed(1)} MB (${ratio(last, first)}×);` +
      ` interval means ${Math.min(...all).toFixed(1)}–${Math.max(...all).toFixed(1)} MB${note}`,
  };
}

/** The platform's live heap (lowest 1 s sample of each third): a leak shows here, GC's sawtooth does not. */
function heapNote(r: SoakResult): string {
  const parts = thirds(after(r));
  if (parts === undefined) return "";
  const [first, last] = parts.map((p) => Math.min(...p.map((i) => i.heapMinMB))) as [number, number];
  return `; live V8 heap (lowest sample) first third ${first.toFixed(1)} MB, last third ${last.toFixed(1)} MB`;
}

function judgeP99(after: readonly IntervalStats[]): Verdict {
  const rule = `median interval p99 of the last third ≤ ${P99_FACTOR}× that of the first third (after warm-up)`;
  const parts = thirds(after);
  if (parts === undefined)
    return { ok: false, judged: false, rule, detail: "fewer than 3 intervals after warm-up" };
  const [first, last] = parts.map((p) => median(p.map((i) => i.p99Ms))) as [number, number];
  return {
    ok: last <= first * P99_FACTOR,
    judged: true,
    rule,
    detail: `first third ${first.toFixed(1)} ms, last third ${last.toFixed(1)} ms (${ratio(last, first)}×)`,
  };
}

function judgeLost(r: SoakResult): Verdict {
  const { totals: t, store: s } = r;
  const probeErrors = r.probe?.httpErrors ?? 0;
  const lost = t.unsettled + t.failed + s.notDelivered + s.missing + s.pending + s.deadLettered;
  return {
    ok: lost === 0 && t.httpErrors + probeErrors === 0,
    judged: true,
    rule: "every request 202; every accepted id settled delivered (log and store); none pending or dead-lettered",
    detail:
      `${s.delivered}/${s.checked} accepted ids delivered in the store (not delivered ${s.notDelivered}, missing ${s.missing});` +
      ` unsettled at the end ${t.unsettled}, dead-lettered ${s.deadLettered}, pending ${s.pending}, retried attempts ${t.retries};` +
      ` HTTP errors ${t.httpErrors + probeErrors}`,
  };
}

export function judgeSoak(r: SoakResult): SoakVerdicts {
  return {
    rss: flat("platform process", r, (i) => i.rssMB, heapNote(r)),
    sandboxRss: flat("sandboxes", r, (i) => i.sandboxRssMB, ""),
    p99: judgeP99(after(r)),
    lost: judgeLost(r),
  };
}
