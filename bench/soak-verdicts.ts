/**
 * The soak's three verdicts, each with its rule written out (printed next to the verdict):
 * - RSS flat: after the warm-up, the highest 1 s sample of the platform's RSS is within 10 % of the
 *   mean RSS of the last warm-up interval (the RSS at warm-up end); the sandboxes' summed RSS, by the
 *   same rule on interval means, is judged separately.
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

function split(r: SoakResult): { warm: IntervalStats | undefined; after: IntervalStats[] } {
  const w = r.warmupSeconds;
  return {
    warm: r.intervals.filter((i) => i.toS <= w).at(-1),
    after: r.intervals.filter((i) => i.fromS >= w),
  };
}

function flat(name: string, ref: number | undefined, peak: number, rule: string): Verdict {
  if (ref === undefined || ref === 0)
    return { ok: false, judged: false, rule, detail: `${name}: no warm-up interval to compare with` };
  const growth = ratio(peak, ref);
  return {
    ok: peak <= ref * (1 + RSS_TOLERANCE),
    judged: true,
    rule,
    detail: `${name}: ${ref.toFixed(1)} MB at warm-up end, ${peak.toFixed(1)} MB at most after (${growth}×)`,
  };
}

function judgeP99(after: readonly IntervalStats[]): Verdict {
  const rule = `median interval p99 of the last third ≤ ${P99_FACTOR}× that of the first third (after warm-up)`;
  if (after.length < 3)
    return { ok: false, judged: false, rule, detail: "fewer than 3 intervals after warm-up" };
  const third = Math.ceil(after.length / 3);
  const first = median(after.slice(0, third).map((i) => i.p99Ms));
  const last = median(after.slice(-third).map((i) => i.p99Ms));
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
  const { warm, after } = split(r);
  const rule = `after a ${r.warmupSeconds} s warm-up, max RSS ≤ ${1 + RSS_TOLERANCE}× the RSS at warm-up end`;
  return {
    rss: flat("platform process", warm?.rssMB, Math.max(0, ...after.map((i) => i.rssMaxMB)), rule),
    sandboxRss: flat("sandboxes", warm?.sandboxRssMB, Math.max(0, ...after.map((i) => i.sandboxRssMB)), rule),
    p99: judgeP99(after),
    lost: judgeLost(r),
  };
}
