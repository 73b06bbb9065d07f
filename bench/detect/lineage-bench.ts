/**
 * Detector 1 (lineage and amplification) on its workload, twice: with `response: hold` (the default:
 * findings, what leaked before the hold, collateral, the delivery book) and with `response: alert`
 * (nothing is held, so each attack runs to the hop limit or the horizon: its unbounded cost, and the
 * traffic the baselines are scored on).
 */
import { DEFAULT_DETECT, DEFAULT_RETRY } from "../../src/manifest/index.ts";
import { createEwma, createStaticThreshold } from "./baselines.ts";
import { type ChainSimResult, type RangeCost, simulateChains } from "./chains.ts";
import type { BookTotals } from "./delivery-book.ts";
import { ADAPTIVE_TARGET, HORIZON, lineageWorkload, ORDERS_PER_SECOND, RUNGS } from "./lineage-workload.ts";
import type { Aim, DetectorReport, MethodRow } from "./report.ts";
import { count, duration, type Hit, percent, type Range, type Score, scoreHits } from "./score.ts";
import { DAYS, MINUTE, START } from "./traffic.ts";

/** 10× the busiest function's normal peak per minute (mailer: two emails per order, 1.6× at 15:00). */
const STATIC_PER_MINUTE = Math.round(ORDERS_PER_SECOND * 2 * 1.6 * 60 * 10);

export interface LineageBench {
  report: DetectorReport;
  book: BookTotals;
}

export function runLineageBench(seed: number): LineageBench {
  const w = lineageWorkload(seed);
  const policy = DEFAULT_DETECT.amplification;
  const common = { deployments: w.deployments, retry: DEFAULT_RETRY, roots: w.roots, failing: w.failing };
  const hold = simulateChains({ ...common, policy, book: true });
  const book = hold.book?.totals();
  if (book === undefined) throw new Error("Cannot account for deliveries: the hold run kept no book");
  const fixed = createStaticThreshold(
    `static: ≥ ${STATIC_PER_MINUTE} invocations/function/min`,
    MINUTE,
    STATIC_PER_MINUTE,
  );
  const ewma = createEwma("EWMA ± 3σ of invocations/function/min", MINUTE, START);
  const scopes = new Map<string, string>();
  const alert = simulateChains({
    ...common,
    policy: { ...policy, response: "alert" },
    book: false,
    attempted(fn, at) {
      const scope = scopes.get(fn) ?? `fn:${fn}`;
      scopes.set(fn, scope);
      fixed.observe(scope, at);
      ewma.observe(scope, at);
    },
  });
  const rootHits = (r: ChainSimResult): Hit[] =>
    r.findings.map((f) => ({ scope: `root:${f.scope.name}`, at: f.at }));
  const lineage = scoreHits(w.ranges, rootHits(hold), DAYS);
  const hop16 = scoreHits(w.ranges, alert.hop16, DAYS);
  const staticScore = scoreHits(w.ranges, fixed.hits, DAYS);
  const ewmaScore = scoreHits(w.ranges, ewma.hits, DAYS);

  const unbounded = (r: Range): number => alert.costs.get(r)?.total ?? 0;
  const leakedBy =
    (score: Score) =>
    (r: Range): number => {
      const at = score.first.get(r);
      return at === undefined ? 1 : costAt(alert.costs.get(r), r, at) / Math.max(1, unbounded(r));
    };
  const leakedHold = (r: Range): number => (hold.costs.get(r)?.total ?? 0) / Math.max(1, unbounded(r));
  const loops = w.ranges.filter((r) => r.kind === "attack");
  const summary = (leak: (r: Range) => number): string => {
    const xs = loops.map(leak);
    return `max ${percent(Math.max(...xs))}, ${xs.filter((x) => x <= 0.01).length}/${xs.length} ≤ 1 %`;
  };
  const methods: MethodRow[] = [
    {
      method: "detector 1: lineage (hold)",
      score: lineage,
      leaked: summary(leakedHold),
      collateral: `${count(hold.held.benign)} held`,
    },
    {
      method: "baseline: 16-hop rule (Lambda-style)",
      score: hop16,
      leaked: summary(leakedBy(hop16)),
      collateral: "—",
    },
    { method: fixed.name, score: staticScore, leaked: summary(leakedBy(staticScore)), collateral: "—" },
    { method: ewma.name, score: ewmaScore, leaked: summary(leakedBy(ewmaScore)), collateral: "—" },
  ];
  const ladder = RUNGS.map((rung) => {
    const rs = w.ranges.filter((r) => r.rung === rung.label);
    const cell = (score: Score, leak: (r: Range) => number): string =>
      `${rs.filter((r) => score.first.has(r)).length}/${rs.length}, ${percent(Math.max(...rs.map(leak)))}`;
    return [
      `${rung.label}${rung.kind === "attack" ? "" : ` (${rung.kind === "blind" ? "blind spot" : "adaptive"})`}`,
      count(Math.max(...rs.map(unbounded))),
      cell(lineage, leakedHold),
      cell(hop16, leakedBy(hop16)),
      cell(staticScore, leakedBy(staticScore)),
      cell(ewmaScore, leakedBy(ewmaScore)),
    ];
  });
  const adaptive = w.ranges.find((r) => r.kind === "adaptive");
  const adaptiveCost = adaptive === undefined ? 0 : (hold.costs.get(adaptive)?.total ?? 0);
  const aims: Aim[] = RUNGS.filter((r) => r.kind === "attack").map((rung) => {
    const rs = loops.filter((r) => r.rung === rung.label);
    const worst = rs.reduce((a, b) => (leakedHold(b) > leakedHold(a) ? b : a));
    const leaked = leakedHold(worst);
    return {
      what: `D1 cost leaked ≤ 1 %: ${rung.label}`,
      met: leaked <= 0.01,
      detail: `${percent(leaked)} of the unbounded cost (worst of ${rs.length}: ${count(hold.costs.get(worst)?.total ?? 0)} of ${count(unbounded(worst))} invocations+emits)`,
    };
  });
  return {
    book,
    report: {
      aims,
      title: `Detector 1, lineage and amplification (${DAYS} simulated days; ${count(w.roots.length)} roots, ${count(hold.attempts)} attempts in the hold run; scopes: root for lineage and the 16-hop rule, function for the window baselines)`,
      methods,
      ladder: {
        title: `Loops and fan-out (each rung 3 times; unbounded = invocations+emits without any detector, to the hop limit or a ${duration(HORIZON)} horizon; cells: detected, worst cost leaked before the response)`,
        header: ["rung", "unbounded", "lineage", "16-hop rule", "static", "EWMA"],
        rows: ladder,
      },
      notes: [
        `lineage budgets: the emit graph's worst case per root type (worstCaseAmplification of the simulated manifest), at most maxPerRoot ${policy.maxPerRoot}; cycles without recursion.maxDepth get maxPerRoot.`,
        `adaptive attacker (chains kept at ${count(ADAPTIVE_TARGET)} of the ${count(policy.maxPerRoot)} budget, a new root each minute): not detected, as a threshold must allow; in ${duration(HORIZON)} it caused ${count(adaptiveCost)} invocations+emits (the sync function's whole capacity).`,
        "baselines are scored on the alert run's traffic with containment at their first finding in the range (their holds are not simulated, so no collateral figure).",
      ],
    },
  };
}

/** What a range's attack had cost by `at` (from its per-second curve). */
function costAt(c: RangeCost | undefined, r: Range, at: number): number {
  if (c === undefined) return 0;
  const second = Math.floor((at - r.start) / 1000);
  if (second < 0) return 0;
  return second >= c.curve.length ? c.total : (c.curve[second] ?? c.total);
}
