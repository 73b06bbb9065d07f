import type { OutliersPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createP2Quantile, type P2Quantile } from "./p2-quantile.ts";

/**
 * How far above its p99 an observation must also be to be an outlier: a function that takes 2 ms or
 * gets 300 bytes does not alert on jitter however many times its p99 that is. An attempt's wall time
 * includes waiting for a new sandbox process when its pool grows, and a GC pause or a busy host adds
 * more (a 160 ms attempt among 5 ms ones was seen on an idle test machine): hence 500 ms, not less.
 */
export const OUTLIER_FLOORS = Object.freeze({ durationMs: 500, payloadBytes: 4096 });

type Measure = keyof typeof OUTLIER_FLOORS;

const UNIT: Record<Measure, string> = { durationMs: "ms", payloadBytes: "bytes" };

/** One measure of one function: its streaming quantiles and when it was last reported. */
interface Baseline {
  readonly p50: P2Quantile;
  readonly p99: P2Quantile;
  reportedAt: number | undefined;
}

export interface Outliers {
  /** Judges an attempt's duration and event data size against its function's, then learns them. */
  settled(settled: SignalOf<"invocation.settled">, now?: number): void;
}

/**
 * Detector 6, payload and duration outliers: per function, P² estimates of the p50 and p99 of the
 * wall time of its attempts that ran and of the size of the event data of first attempts. Once a
 * measure has `warmup` observations, one above both `factor` × p99 and p99 + its floor
 * (`OUTLIER_FLOORS`) is an outlier, reported at most once per function and measure within
 * `windowSec`. An outlier is learned as if it were at that limit, so outliers raise the baseline one
 * factor at a time and only once they are over 1 % of what the function saw (a lasting change is
 * learned; a few huge events are not). A sender chooses its events' sizes, so the response is
 * `alert` only. Memory is bounded: four five-marker estimators per function of the app.
 */
export function createOutliers(policy: OutliersPolicy, report: (finding: Finding) => void): Outliers {
  const baselines = new Map<string, Record<Measure, Baseline>>();
  /** Time of each function's last finding: its findings get distinct times (their event ids). */
  const lastAt = new Map<string, number>();
  const windowMs = policy.windowSec * 1000;

  const baselineOf = (fn: string): Record<Measure, Baseline> => {
    let b = baselines.get(fn);
    if (b === undefined) {
      b = { durationMs: newBaseline(), payloadBytes: newBaseline() };
      baselines.set(fn, b);
    }
    return b;
  };

  const observe = (s: SignalOf<"invocation.settled">, measure: Measure, value: number, now: number) => {
    const b = baselineOf(s.fn)[measure];
    const seen = b.p99.count();
    const p99 = b.p99.value();
    const limit = Math.max(policy.factor * p99, p99 + OUTLIER_FLOORS[measure]);
    if (seen < policy.warmup || value <= limit) {
      learn(b, value);
      return;
    }
    const p50 = b.p50.value(); // the baseline it was judged by, before it is learned
    learn(b, limit);
    if (b.reportedAt !== undefined && now - b.reportedAt < windowMs) return;
    b.reportedAt = now;
    const at = Math.max(now, (lastAt.get(s.fn) ?? 0) + 1);
    lastAt.set(s.fn, at);
    report(outlierFinding(policy, s, { measure, value, p50, p99, observations: seen }, at));
  };

  return {
    settled(s, now = Date.now()) {
      if (policy.response === "off") return;
      if (s.durationMs !== undefined) observe(s, "durationMs", s.durationMs, now);
      // The same event's data again (a retry) is not a new observation.
      if (s.payloadBytes !== undefined && s.attempt === 1) observe(s, "payloadBytes", s.payloadBytes, now);
    },
  };
}

function newBaseline(): Baseline {
  return { p50: createP2Quantile(0.5), p99: createP2Quantile(0.99), reportedAt: undefined };
}

function learn(b: Baseline, value: number): void {
  b.p50.add(value);
  b.p99.add(value);
}

/** One outlier: what was measured, its value and the baseline it was judged by. */
interface Outlier {
  readonly measure: Measure;
  readonly value: number;
  readonly p50: number;
  readonly p99: number;
  readonly observations: number;
}

function outlierFinding(
  policy: OutliersPolicy,
  s: SignalOf<"invocation.settled">,
  o: Outlier,
  at: number,
): Finding {
  const { measure, value, observations } = o;
  const round = (x: number) => (measure === "durationMs" ? Math.round(x * 10) / 10 : Math.round(x));
  const [v, p50, p99] = [round(value), round(o.p50), round(o.p99)];
  const unit = UNIT[measure];
  const what =
    measure === "durationMs"
      ? `ran ${v} ms for event "${s.eventId}"`
      : `was given ${v} bytes of event data in event "${s.eventId}"`;
  const times =
    p99 > 0 ? `${Math.round(value / o.p99)} times its p99 of ${p99} ${unit}` : `its p99 is ${p99} ${unit}`;
  return {
    detector: "outliers",
    scope: { kind: "function", name: s.fn },
    severity: "low",
    summary: `Function "${s.fn}" ${what}: ${times} (p50 ${p50} ${unit}, over ${observations} observations); further outliers of its ${measure} within ${policy.windowSec} s are not reported`,
    evidence: {
      metric: measure,
      value: v,
      p50,
      p99,
      factor: policy.factor,
      observations,
      eventId: s.eventId,
      type: s.type,
      attempt: s.attempt,
      ...(s.principal === undefined ? {} : { principal: s.principal }),
      windowSec: policy.windowSec,
    },
    response: "alert",
    at,
  };
}
