import type { CostDriftPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";

/** The CUSUM steps once per minute, over that minute's mean cost per invocation. */
export const DRIFT_STEP_MS = 60_000;
/**
 * A minute's standardized mean counts at most this many standard deviations either way: one huge
 * invocation (or one free one) moves the CUSUM by at most 3 − slack, never past the threshold alone.
 */
export const DRIFT_Z_CAP = 3;
/**
 * A minute's mean is never judged more precise than this share of the baseline mean: with many
 * invocations a minute the standard error shrinks towards zero, and a shift of a percent or two
 * (a busier hour's mix) would count; with it, shifts under slack × 5 % never accumulate.
 */
export const DRIFT_NOISE_FLOOR = 0.05;
/**
 * With response `throttle`, a second finding within this long of the first (against the same
 * baseline) throttles the function; past it, the escalation ends and the level is learned.
 */
export const ESCALATE_WINDOW_MS = 60 * 60_000;
/** The slowest a throttle makes a function: one start a minute. */
export const MIN_THROTTLE_RATE = 1 / 60;
/** Principals named in a finding (by spend in the drifting stretch), and kept per stretch. */
const EVIDENCE_PRINCIPALS = 10;
const MAX_PRINCIPALS = 1000;

export interface CostDrift {
  /** Learns an attempt's cost, or adds it to its function's current minute and steps the CUSUM. */
  cost(cost: SignalOf<"invocation.cost">, now?: number): void;
  /** The start rate (per second) a throttled function is held to now; undefined when it is not. */
  throttled(fn: string, now?: number): number | undefined;
}

/** One function: its warm-up or frozen baseline, the current minute and the CUSUM. */
interface State {
  /** Welford's running mean and sum of squared deviations over the warm-up. */
  learned: number;
  mean: number;
  m2: number;
  sd: number;
  /** When the baseline was frozen; undefined while warming up. */
  frozenAt: number | undefined;
  minute: number;
  minuteSum: number;
  minuteCount: number;
  /** What each principal's chains spent on the function in the current minute. */
  minuteBy: Map<string, number>;
  cusum: number;
  /** Since when the CUSUM is above zero, and what was spent since, by whom. */
  driftSince: number;
  driftSum: number;
  driftCount: number;
  driftBy: Map<string, number>;
  /** With response throttle: when the first finding against this baseline was (escalating since). */
  alertedAt: number | undefined;
}

/**
 * Detector 5, slow denial of wallet: per function, a baseline of cost per invocation (the mean and
 * standard deviation of its first `warmup` priced attempts, by Welford's method), then frozen. Each
 * minute's mean cost is standardized against it, z = (mean − baseline) / max(sd / √n, 5 % of the
 * baseline, 1 nano-dollar), capped at ±3, and a one-sided CUSUM S = max(0, S + z − slack) adds up
 * what exceeds the slack; S ≥ `threshold` is a finding. A sustained rise of more than slack × 5 %
 * (2.5 % by default) is found, the sooner the larger the rise and the steadier the cost (with the
 * defaults +20 % or more within about 5 minutes, +5 % within about 25, once a minute's mean is that
 * precise), while one expensive invocation or minute adds at most 3 − slack and is not. With a
 * threshold of 10, noise alone made a finding about once a month per function in simulation at
 * worst (one invocation a minute, exponentially spread costs), far less for steadier or busier
 * ones. It watches cost per invocation, not per minute: more traffic at the usual cost is the rate
 * limits' and budgets' business. A minute is judged when the function's first attempt of a later
 * minute is priced.
 *
 * The response. `alert`: each finding is reported and the function learns a new baseline from its
 * next `warmup` attempts (a further rise is a new finding). `throttle` (the default) escalates, so
 * that one noisy stretch only alerts: the first finding is an alert that keeps the baseline and
 * restarts S at 0; a rise that lasts crosses again, and a second finding judged within
 * ESCALATE_WINDOW_MS of the alert is a `throttle` finding: for `throttleSec` the function's start
 * rate is capped at the spend-neutral rate (throttleRate: the drifting stretch's start rate ×
 * baseline / recent cost per invocation, at least MIN_THROTTLE_RATE), so it spends per second what
 * its current traffic would cost at the baseline price; `throttled` answers that rate to the
 * dispatcher's admission, which keeps the rest of its deliveries pending (nothing is dropped). The
 * function then learns a new baseline. Once a minute is judged past the window without a second
 * finding, the escalation ends and the level is learned as the baseline (accepted); a crossing
 * judged only past the window (a sparse function's next attempt came late) is reported as an alert
 * and the level learned. The throttle is this process's: each worker caps the starts it makes.
 *
 * Memory is bounded: a few numbers per function (its latest throttle among them), plus at most
 * MAX_PRINCIPALS principals per minute and per drifting stretch. Baselines and throttles live in
 * memory: a restart learns again and ends any throttle.
 */
export function createCostDrift(policy: CostDriftPolicy, report: (finding: Finding) => void): CostDrift {
  const states = new Map<string, State>();
  const lastAt = new Map<string, number>();
  const throttles = new Map<string, { rate: number; until: number }>();

  /**
   * Judges the finished minute of `s`: `relearn` when a finding ends this baseline, `alerted` when
   * the first finding of an escalation keeps it, `none` otherwise.
   */
  const step = (fn: string, s: State, now: number): "none" | "alerted" | "relearn" => {
    const n = s.minuteCount;
    const scale = Math.max(s.sd / Math.sqrt(n), DRIFT_NOISE_FLOOR * s.mean, 1);
    const z = Math.max(-DRIFT_Z_CAP, Math.min(DRIFT_Z_CAP, (s.minuteSum / n - s.mean) / scale));
    const before = s.cusum;
    s.cusum = Math.max(0, s.cusum + z - policy.slack);
    if (s.cusum === 0) return "none";
    if (before === 0) {
      s.driftSince = s.minute * DRIFT_STEP_MS;
      s.driftSum = 0;
      s.driftCount = 0;
      s.driftBy.clear();
    }
    s.driftSum += s.minuteSum;
    s.driftCount += n;
    for (const [p, spent] of s.minuteBy) addSpent(s.driftBy, p, spent);
    if (s.cusum < policy.threshold) return "none";
    const at = Math.max(now, (lastAt.get(fn) ?? 0) + 1);
    lastAt.set(fn, at);
    if (policy.response !== "throttle") {
      report(driftFinding(policy, fn, s, at));
      return "relearn";
    }
    if (s.alertedAt === undefined) {
      // Alert first; the baseline stays, so a rise that lasts crosses again and escalates.
      report(driftFinding(policy, fn, s, at, "escalating"));
      s.alertedAt = at;
      s.cusum = 0;
      return "alerted";
    }
    if (at - s.alertedAt > ESCALATE_WINDOW_MS) {
      // Judged only once the window had passed (a sparse function's next attempt came late): the
      // escalation is over, as it would be had a quiet minute been judged; report and learn the level.
      report(driftFinding(policy, fn, s, at));
      return "relearn";
    }
    const throttle = { rate: throttleRate(s), until: at + policy.throttleSec * 1000 };
    throttles.set(fn, throttle);
    report(driftFinding(policy, fn, s, at, throttle));
    return "relearn";
  };

  return {
    cost(c, now = Date.now()) {
      if (policy.response === "off") return;
      let s = states.get(c.fn);
      if (s === undefined) {
        s = newState();
        states.set(c.fn, s);
      }
      if (s.frozenAt === undefined) {
        learn(s, c.nanoUsd, policy.warmup, now);
        return;
      }
      const minute = Math.floor(now / DRIFT_STEP_MS);
      if (minute > s.minute) {
        const judged = s.minuteCount > 0 ? step(c.fn, s, now) : "none";
        // A finding that ends the baseline, or an escalation that saw no second one within its
        // window: the new level is learned as the baseline; this attempt is its first.
        const quiet =
          judged === "none" && s.alertedAt !== undefined && now - s.alertedAt > ESCALATE_WINDOW_MS;
        if (judged === "relearn" || quiet) {
          Object.assign(s, newState());
          learn(s, c.nanoUsd, policy.warmup, now);
          return;
        }
        s.minute = minute;
        s.minuteSum = 0;
        s.minuteCount = 0;
        s.minuteBy.clear();
      }
      s.minuteSum += c.nanoUsd;
      s.minuteCount += 1;
      addSpent(s.minuteBy, c.principal, c.nanoUsd);
    },
    throttled(fn, now = Date.now()) {
      const throttle = throttles.get(fn);
      if (throttle === undefined) return undefined;
      if (now < throttle.until) return throttle.rate;
      throttles.delete(fn);
      return undefined;
    },
  };
}

/**
 * The spend-neutral start rate: the rate the drifting stretch ran at, scaled by baseline over recent
 * cost per invocation, so the function spends per second what that traffic cost at the baseline
 * price (never below MIN_THROTTLE_RATE).
 */
function throttleRate(s: State): number {
  // The stretch ends with the minute just judged (not at the attempt that judged it, which may
  // come much later for a sparse function and would understate the rate).
  const seconds = ((s.minute + 1) * DRIFT_STEP_MS - s.driftSince) / 1000;
  const recent = s.driftSum / s.driftCount;
  const observed = s.driftCount / seconds;
  return Math.max(MIN_THROTTLE_RATE, recent > 0 ? (observed * s.mean) / recent : observed);
}

function newState(): State {
  return {
    learned: 0,
    mean: 0,
    m2: 0,
    sd: 0,
    frozenAt: undefined,
    minute: 0,
    minuteSum: 0,
    minuteCount: 0,
    minuteBy: new Map(),
    cusum: 0,
    driftSince: 0,
    driftSum: 0,
    driftCount: 0,
    driftBy: new Map(),
    alertedAt: undefined,
  };
}

/** Adds one cost to the warm-up; the baseline freezes at `warmup` of them. */
function learn(s: State, x: number, warmup: number, now: number): void {
  s.learned += 1;
  const delta = x - s.mean;
  s.mean += delta / s.learned;
  s.m2 += delta * (x - s.mean);
  if (s.learned < warmup) return;
  s.sd = Math.sqrt(s.m2 / (s.learned - 1));
  s.frozenAt = now;
  s.minute = Math.floor(now / DRIFT_STEP_MS);
}

/** Counts what a principal's chains spent (for the finding's evidence), for at most MAX_PRINCIPALS. */
function addSpent(by: Map<string, number>, principal: string, nanoUsd: number): void {
  const had = by.get(principal);
  if (had === undefined && by.size >= MAX_PRINCIPALS) return;
  by.set(principal, (had ?? 0) + nanoUsd);
}

/**
 * A finding: `escalating` for the first of response throttle (it keeps the baseline), the throttle
 * for the second; neither when the finding ends the baseline without a throttle (response alert, or
 * a second crossing judged past the escalation window): it learns the new level.
 */
function driftFinding(
  policy: CostDriftPolicy,
  fn: string,
  s: State,
  at: number,
  then?: "escalating" | { rate: number; until: number },
): Finding {
  const recent = s.driftSum / s.driftCount;
  const shift = s.mean > 0 ? recent / s.mean - 1 : Number.POSITIVE_INFINITY;
  const minutes = Math.round((at - s.driftSince) / DRIFT_STEP_MS);
  const principals = [...s.driftBy]
    .sort((a, b) => b[1] - a[1])
    .slice(0, EVIDENCE_PRINCIPALS)
    .map(([p]) => p);
  const pct = Number.isFinite(shift) ? `${Math.round(shift * 100)} %` : "infinitely";
  const next =
    then === undefined
      ? `it learns its baseline again from its next ${policy.warmup} invocations`
      : then === "escalating"
        ? `if it lasts (a second finding within ${ESCALATE_WINDOW_MS / 60_000} min), the function is throttled`
        : `throttled to ${formatRate(then.rate)} starts for ${policy.throttleSec} s (until ${new Date(then.until).toISOString()}): its deliveries wait, pending, never dropped; then it learns its baseline again`;
  return {
    detector: "cost-drift",
    scope: { kind: "function", name: fn },
    severity: "medium",
    summary: `Function "${fn}" has cost ${pct} more per invocation than its baseline for about ${minutes} min (${Math.round(recent)} against ${Math.round(s.mean)} nano-dollars, over ${s.driftCount} invocations; CUSUM ${s.cusum.toFixed(1)} ≥ ${policy.threshold}): a sustained rise in spend, possibly a slow denial of wallet; ${next}`,
    evidence: {
      baselineMean: Math.round(s.mean),
      baselineSd: Math.round(s.sd),
      baselineInvocations: s.learned,
      recentMean: Math.round(recent),
      shift: Number.isFinite(shift) ? Math.round(shift * 1000) / 1000 : null,
      invocations: s.driftCount,
      since: new Date(s.driftSince).toISOString(),
      windowSec: Math.round((at - s.driftSince) / 1000),
      cusum: Math.round(s.cusum * 100) / 100,
      threshold: policy.threshold,
      slack: policy.slack,
      principals,
      unit: "nano-USD per invocation",
      ...(typeof then === "object"
        ? {
            ratePerSec: Math.round(then.rate * 10_000) / 10_000,
            throttleSec: policy.throttleSec,
            until: new Date(then.until).toISOString(),
          }
        : {}),
    },
    response: typeof then === "object" ? "throttle" : "alert",
    at,
  };
}

function formatRate(perSecond: number): string {
  return perSecond >= 1 ? `${Math.round(perSecond * 10) / 10}/s` : `${Math.round(perSecond * 600) / 10}/min`;
}
