/**
 * Detector 1 (lineage and amplification) on its workload, twice: with `response: hold` (the default:
 * findings, what leaked before the hold, collateral, the delivery book) and with `response: alert`
 * (nothing is held, so each attack runs to the hop limit or the horizon: its unbounded cost, and the
 * traffic the baselines are scored on).
 */
import { DEFAULT_DETECT, DEFAULT_RETRY } from "../../src/manifest/index.ts";
import { createEwma, createStaticThreshold, type WindowRule } from "./baselines.ts";
import { type ChainSimResult, type RangeCost, simulateChains } from "./chains.ts";
import type { BookTotals } from "./delivery-book.ts";
import {
  ADAPTIVE_TARGET,
  HORIZON,
  type LineageWorkload,
  lineageWorkload,
  ORDERS_PER_SECOND,
  RUNGS,
} from "./lineage-workload.ts";
import { type Aim, type DetectorReport, ladderRows, type MethodRow } from "./report.ts";
import { count, duration, findingHits, percent, type Range, type Score, scoreHits } from "./score.ts";
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
  return { book, report: buildReport(w, { hold, alert, fixed, ewma }) };
}

/** The two runs: with holds (the detector), and alert only (its traffic counted by the window baselines). */
interface LineageRuns {
  readonly hold: ChainSimResult;
  readonly alert: ChainSimResult;
  readonly fixed: WindowRule;
  readonly ewma: WindowRule;
}

/** Shares of each attack range's unbounded cost that got through before a response. */
interface Leaks {
  /** Invocations+emits of the range without any response (the alert run). */
  unbounded(r: Range): number;
  /** Under the detector's holds. */
  held(r: Range): number;
  /** Up to a method's first finding in the range (all of it without one). */
  by(score: Score): (r: Range) => number;
}

function leaksOf(hold: ChainSimResult, alert: ChainSimResult): Leaks {
  const unbounded = (r: Range): number => alert.costs.get(r)?.total ?? 0;
  return {
    unbounded,
    held: (r) => (hold.costs.get(r)?.total ?? 0) / Math.max(1, unbounded(r)),
    by: (score) => (r) => {
      const at = score.first.get(r);
      return at === undefined ? 1 : costAt(alert.costs.get(r), r, at) / Math.max(1, unbounded(r));
    },
  };
}

function buildReport(w: LineageWorkload, runs: LineageRuns): DetectorReport {
  const { hold, alert, fixed, ewma } = runs;
  const policy = DEFAULT_DETECT.amplification;
  const lineage = scoreHits(w.ranges, findingHits(hold.findings, "root"), DAYS);
  const hop16 = scoreHits(w.ranges, alert.hop16, DAYS);
  const staticScore = scoreHits(w.ranges, fixed.hits, DAYS);
  const ewmaScore = scoreHits(w.ranges, ewma.hits, DAYS);
  const leaks = leaksOf(hold, alert);
  const loops = w.ranges.filter((r) => r.kind === "attack");
  const summary = (leak: (r: Range) => number): string => {
    const xs = loops.map(leak);
    return `max ${percent(Math.max(...xs))}, ${xs.filter((x) => x <= 0.01).length}/${xs.length} ≤ 1 %`;
  };
  const methods: MethodRow[] = [
    {
      method: "detector 1: lineage (hold)",
      score: lineage,
      leaked: summary(leaks.held),
      collateral: `${count(hold.held.benign)} held`,
    },
    {
      method: "baseline: 16-hop rule (Lambda-style)",
      score: hop16,
      leaked: summary(leaks.by(hop16)),
      collateral: "—",
    },
    { method: fixed.name, score: staticScore, leaked: summary(leaks.by(staticScore)), collateral: "—" },
    { method: ewma.name, score: ewmaScore, leaked: summary(leaks.by(ewmaScore)), collateral: "—" },
  ];
  const ladder = ladderRows(RUNGS, w.ranges, (rs) => {
    const cell = (score: Score, leak: (r: Range) => number): string =>
      `${rs.filter((r) => score.first.has(r)).length}/${rs.length}, ${percent(Math.max(...rs.map(leak)))}`;
    return [
      count(Math.max(...rs.map(leaks.unbounded))),
      cell(lineage, leaks.held),
      cell(hop16, leaks.by(hop16)),
      cell(staticScore, leaks.by(staticScore)),
      cell(ewmaScore, leaks.by(ewmaScore)),
    ];
  });
  const adaptive = w.ranges.find((r) => r.kind === "adaptive");
  const adaptiveCost = adaptive === undefined ? 0 : (hold.costs.get(adaptive)?.total ?? 0);
  return {
    aims: costAims(loops, leaks, hold),
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
  };
}

/** The aim per attack rung: the worst of its ranges leaks at most 1 % under the hold. */
function costAims(loops: readonly Range[], leaks: Leaks, hold: ChainSimResult): Aim[] {
  return RUNGS.filter((r) => r.kind === "attack").map((rung) => {
    const rs = loops.filter((r) => r.rung === rung.label);
    const worst = rs.reduce((a, b) => (leaks.held(b) > leaks.held(a) ? b : a));
    const leaked = leaks.held(worst);
    return {
      what: `D1 cost leaked ≤ 1 %: ${rung.label}`,
      met: leaked <= 0.01,
      detail: `${percent(leaked)} of the unbounded cost (worst of ${rs.length}: ${count(hold.costs.get(worst)?.total ?? 0)} of ${count(leaks.unbounded(worst))} invocations+emits)`,
    };
  });
}

/** What a range's attack had cost by `at` (from its per-second curve). */
function costAt(c: RangeCost | undefined, r: Range, at: number): number {
  if (c === undefined) return 0;
  const second = Math.floor((at - r.start) / 1000);
  if (second < 0) return 0;
  return second >= c.curve.length ? c.total : (c.curve[second] ?? c.total);
}
