/**
 * Detector 5 (slow cost drift, a slow denial of wallet) on the attempt workload: each attempt's price
 * (the platform's cost model) is an `invocation.cost` signal once it settles. The ladder raises a
 * victim's cost per invocation by +5..50 % for two hours (its events make it do more work).
 */
import { createCostDrift, ESCALATE_WINDOW_MS } from "../../src/detect/index.ts";
import { DEFAULT_DETECT } from "../../src/manifest/index.ts";
import type { Finding, SignalOf } from "../../src/signals/index.ts";
import {
  type Attempt,
  type AttemptWorkload,
  attemptWorkload,
  meanPrice,
  PROFILES,
  type Profile,
  priceOf,
  type Rung,
} from "./attempts.ts";
import { createEwma, createStaticThreshold } from "./baselines.ts";
import { baselineRow, type DetectorReport, type DetectorRun, ladderRows, type MethodRow } from "./report.ts";
import {
  count,
  detectedCell,
  duration,
  findingHits,
  median,
  percent,
  type Range,
  type Score,
  scoreHits,
} from "./score.ts";
import { DAY, DAYS, HOUR, MINUTE, START } from "./traffic.ts";

/** The alert-only policy: what the detector finds (the default, throttle, escalates on it). */
const POLICY = { ...DEFAULT_DETECT.costDrift, response: "alert" as const };
/** The default: alert, then throttle at a second finding against the same baseline. */
const THROTTLE = DEFAULT_DETECT.costDrift;
/** Shifts under slack × 5 % (the noise floor) never add up: the adaptive attacker stays at 90 % of it. */
const ADAPTIVE_SHIFT = 0.9 * POLICY.slack * 0.05;

const RUNGS: readonly (Rung & { shift: number })[] = [
  ...[0.05, 0.1, 0.2, 0.5].map((shift) => ({
    label: `cost per invocation +${shift * 100} % for 2 h`,
    kind: "attack" as const,
    length: 2 * HOUR,
    shift,
  })),
  {
    label: `adaptive: +${(ADAPTIVE_SHIFT * 100).toFixed(2)} % for 6 h`,
    kind: "adaptive",
    length: 6 * HOUR,
    shift: ADAPTIVE_SHIFT,
  },
];

export function runCostDriftBench(seed: number): DetectorReport {
  const means = new Map(PROFILES.map((p) => [p.fn, meanPrice(p)]));
  const nanoPerMs = (p: Profile): number => ((p.memoryMb / 1024) * 0.0000166667 * 1e9) / 1000;
  const w = attemptWorkload(seed, "cost-drift", RUNGS, (_r, rung, range, victim, attempts) => {
    const shift = (RUNGS.find((x) => x.label === rung.label)?.shift ?? 0) * (means.get(victim.fn) ?? 0);
    const extraMs = shift / nanoPerMs(victim);
    for (const a of attempts)
      if (a.fn === victim.fn && a.at >= range.start && a.at < range.end && a.range === undefined) {
        const before = priceOf(a);
        a.durationMs += extraMs;
        a.range = range;
        a.extra = priceOf(a) - before;
      }
  });
  return buildReport(simulate(w.attempts, means), w, throttleRun(w.attempts));
}

/** What the default response (throttle) does on the same attempts: when each function was throttled. */
interface ThrottleRun {
  /** Throttle findings, by function, in time order. */
  readonly throttles: ReadonlyMap<string, readonly number[]>;
  readonly findings: readonly Finding[];
}

function throttleRun(attempts: readonly Attempt[]): ThrottleRun {
  const findings: Finding[] = [];
  const drift = createCostDrift(THROTTLE, (f) => findings.push(f));
  attempts.forEach((a, i) => {
    drift.cost(costSignal(a, i, priceOf(a)), a.at + a.durationMs);
  });
  const throttles = new Map<string, number[]>();
  for (const f of findings)
    if (f.response === "throttle")
      throttles.set(f.scope.name, [...(throttles.get(f.scope.name) ?? []), f.at]);
  return { throttles, findings };
}

/** Spend an attack added to its range: all of it, and what came before the victim's finding. */
interface Extra {
  before: number;
  all: number;
}

/** What the alert run left to score. */
interface DriftRun extends DetectorRun {
  readonly extra: ReadonlyMap<Range, Extra>;
}

/** What the cost meter reports for attempt number `i` once it settles. */
function costSignal(a: Attempt, i: number, nanoUsd: number): SignalOf<"invocation.cost"> {
  const memoryMb = 128;
  return {
    kind: "invocation.cost",
    fn: a.fn,
    eventId: `e${i}`,
    principal: a.range === undefined ? "shop" : "tenant-x",
    nanoUsd,
    parts: {
      request: 200,
      compute: Math.round((a.durationMs / 1000) * (memoryMb / 1024) * 16_666.7),
      egress: 0,
      payload: 0,
      capabilityCalls: 0,
    },
  };
}

function simulate(attempts: readonly Attempt[], means: ReadonlyMap<string, number>): DriftRun {
  const peak = Math.max(...PROFILES.map((p) => p.perSecond * 1.6 * 60 * (means.get(p.fn) ?? 0)));
  const fixed = createStaticThreshold(
    `static: ≥ ${count(peak * 10)} nano-$ spend/function/min`,
    MINUTE,
    peak * 10,
  );
  const ewma = createEwma("EWMA ± 3σ of spend/function/min", MINUTE, START, { minSigma: 1000 });
  const findings: Finding[] = [];
  const drift = createCostDrift(POLICY, (f) => findings.push(f));
  const extra = new Map<Range, Extra>();
  const found = new Map<string, number>();
  attempts.forEach((a: Attempt, i) => {
    const nanoUsd = priceOf(a);
    const at = a.at + a.durationMs;
    const before = findings.length;
    drift.cost(costSignal(a, i, nanoUsd), at);
    if (findings.length > before) found.set(a.fn, at);
    fixed.observe(`fn:${a.fn}`, at, nanoUsd);
    ewma.observe(`fn:${a.fn}`, at, nanoUsd);
    if (a.range !== undefined && a.extra !== undefined) {
      const e = extra.get(a.range) ?? { before: 0, all: 0 };
      e.all += a.extra;
      const hit = found.get(a.fn);
      if (hit === undefined || hit < a.range.start) e.before += a.extra;
      extra.set(a.range, e);
    }
  });
  return { findings, fixed, ewma, extra };
}

function buildReport(run: DriftRun, w: AttemptWorkload, throttled: ThrottleRun): DetectorReport {
  const { fixed, ewma, extra } = run;
  const attacks = w.ranges.filter((r) => r.kind === "attack");
  // When the attack's victim was first throttled inside its range, if it was.
  const throttledAt = (r: Range): number | undefined => {
    const fn = [...r.scopes][0]?.slice(3) ?? "";
    return throttled.throttles.get(fn)?.find((t) => t >= r.start && t < r.end);
  };
  // Throttled: the attack's extra spend before its victim's first throttle inside the range.
  const beforeThrottle = (r: Range): number => {
    const at = throttledAt(r);
    return w.attempts
      .filter((a) => a.range === r && (at === undefined || a.at < at))
      .reduce((sum, a) => sum + (a.extra ?? 0), 0);
  };
  const throttledShare = (rs: readonly Range[]): number => {
    const all = rs.reduce((sum, r) => sum + (extra.get(r)?.all ?? 0), 0);
    return all === 0 ? 0 : rs.reduce((sum, r) => sum + beforeThrottle(r), 0) / all;
  };
  // Per rung: how many attacks were throttled, and the longest from the attack's start to it.
  const throttleCell = (rs: readonly Range[]): string => {
    const delays = rs.flatMap((r) => {
      const at = throttledAt(r);
      return at === undefined ? [] : [at - r.start];
    });
    return delays.length === 0
      ? `0/${rs.length}`
      : `${delays.length}/${rs.length}, ${duration(Math.max(...delays))}`;
  };
  const throttleDelays = attacks.flatMap((r) => {
    const at = throttledAt(r);
    return at === undefined ? [] : [at - r.start];
  });
  const inAttack = (fn: string, at: number) =>
    attacks.some((r) => r.scopes.has(`fn:${fn}`) && at >= r.start && at < r.end);
  const benignThrottles = [...throttled.throttles].reduce(
    (n, [fn, ats]) => n + ats.filter((at) => !inAttack(fn, at)).length,
    0,
  );
  const score = scoreHits(w.ranges, findingHits(run.findings, "fn"), DAYS);
  const fixedScore = scoreHits(w.ranges, fixed.hits, DAYS);
  const ewmaScore = scoreHits(w.ranges, ewma.hits, DAYS);
  const leak = (rs: readonly Range[]): number => {
    const [b, a] = rs.reduce(
      ([b0, a0], r) => [b0 + (extra.get(r)?.before ?? 0), a0 + (extra.get(r)?.all ?? 0)],
      [0, 0],
    );
    return a === 0 ? 0 : b / a;
  };
  const methods: MethodRow[] = [
    {
      method: `detector 5: cost drift (CUSUM h ${POLICY.threshold}, k ${POLICY.slack}, alert)`,
      score,
      leaked: `extra spend before finding: ${percent(leak(w.ranges.filter((r) => r.kind === "attack")))}`,
      collateral: "0 held",
    },
    {
      method: `detector 5: cost drift (throttle, ${THROTTLE.throttleSec} s; the default)`,
      score: scoreHits(w.ranges, findingHits(throttled.findings, "fn"), DAYS),
      leaked: `extra spend before the throttle: ${percent(throttledShare(attacks))}`,
      collateral: `${benignThrottles} benign throttle(s)`,
    },
    baselineRow(fixed, fixedScore),
    baselineRow(ewma, ewmaScore),
  ];
  const adaptive = w.ranges.find((r) => r.kind === "adaptive");
  const alone = isolated(w.attempts, w.ranges);
  return {
    title: `Detector 5, slow cost drift (${DAYS} simulated days; ${count(w.attempts.length)} priced attempts of ${PROFILES.length} functions, DEFAULT_PRICES; scope: function)`,
    methods,
    ladder: {
      title:
        "Slow denial-of-wallet ladder (each rung 3 times on different functions; cells: detected, worst delay; extra = spend the attack added before the finding)",
      header: [
        "rung",
        "cost drift",
        "extra before finding",
        "throttled (default)",
        "extra before throttle",
        "fresh detector",
        "static",
        "EWMA",
      ],
      rows: ladderRows(RUNGS, w.ranges, (rs) => [
        detectedCell(score, rs),
        percent(leak(rs)),
        throttleCell(rs),
        percent(throttledShare(rs)),
        detectedCell(alone, rs),
        detectedCell(fixedScore, rs),
        detectedCell(ewmaScore, rs),
      ]),
    },
    notes: [
      `throttled (default): attacks whose victim the default response throttled within the attack, and the longest from the attack's start to the throttle finding; ${throttleDelays.length}/${attacks.length} attacks throttled, ${duration(median(throttleDelays))} from start to throttle (p50); extra before throttle: the share of the attack's extra spend made before it.`,
      `throttle (the default): the first finding alerts and keeps the baseline; a second within ${ESCALATE_WINDOW_MS / 3_600_000} h caps the function's start rate for ${THROTTLE.throttleSec} s at the spend-neutral rate (not modelled here: the attempts run as they came, so "extra spend before the throttle" is what the attack added until the throttle began, and what the throttle then saves is not counted). A throttle on benign traffic delays that function's deliveries (pending, never dropped) for up to ${THROTTLE.throttleSec} s.`,
      "fresh detector: the same rung with a detector that learned only the victim's previous day (no earlier injection), which separates the rung's own sensitivity from what the week's earlier findings did: after a finding the detector learns its next 200 attempts as the new baseline, so a finding made during a sustained rise or an outage bakes that level in, and the function is blind to rises up to it afterwards.",
      `adaptive attacker: +${(ADAPTIVE_SHIFT * 100).toFixed(2)} % per invocation for 6 h (below slack × the 5 % noise floor) added ${count(adaptive === undefined ? 0 : (extra.get(adaptive)?.all ?? 0))} nano-$ unnoticed.`,
    ],
    aims: [],
  };
}

/** Each injection alone: a new detector fed the victim's attempts from a day before it to its end. */
function isolated(attempts: readonly Attempt[], ranges: readonly Range[]): Score {
  const findings: Finding[] = [];
  for (const r of ranges.filter((x) => x.kind !== "benign")) {
    const fn = [...r.scopes][0]?.slice(3) ?? "";
    const drift = createCostDrift(POLICY, (f) => findings.push(f));
    for (const a of attempts) {
      if (a.fn !== fn || a.at < r.start - DAY || a.at >= r.end || (a.range !== undefined && a.range !== r))
        continue;
      const signal: SignalOf<"invocation.cost"> = {
        kind: "invocation.cost",
        fn,
        eventId: "e",
        principal: "p",
        nanoUsd: priceOf(a),
        parts: { request: 200, compute: 0, egress: 0, payload: 0, capabilityCalls: 0 },
      };
      drift.cost(signal, a.at + a.durationMs);
    }
  }
  return scoreHits(ranges, findingHits(findings, "fn"), DAYS);
}
