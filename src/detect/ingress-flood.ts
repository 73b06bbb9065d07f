import type { IngressFloodPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";

export interface IngressFlood {
  /** Counts a request's accepted events for its principal. */
  accepted(accepted: SignalOf<"ingress.accepted">, now?: number): void;
  /** The rate a throttled principal is held to now (events per second), if it is throttled. */
  throttled(principal: string, now?: number): number | undefined;
}

interface PrincipalState {
  /** The current window's index and its events so far. */
  window: number;
  count: number;
  /** Events of past windows, oldest first (at most `baselineWindows`; empty windows are zeros). */
  past: number[];
  /** Throttled until (epoch ms), and to what rate. */
  until: number;
  perSecond: number;
}

/**
 * Detector 4, ingress floods per principal: each principal's accepted events per window
 * (`windowSec`) against a robust baseline, the median of its last `baselineWindows` windows (a
 * median is not dragged up by a few earlier bursts, and an attacker must keep a higher rate for half
 * the baseline to move it). After `warmupWindows`, a window passing `factor` × the median and
 * `minEvents` is a finding about that principal only; with response `throttle` its rate limit drops
 * to its baseline rate (never below 1 event/s) for `throttleSec`: requests past it get 429 with
 * Retry-After, accepted events are never dropped. Only the principal's own authenticated traffic
 * counts, so nobody else can throttle it. Memory: one state per principal of the manifest.
 */
export function createIngressFlood(
  policy: IngressFloodPolicy,
  report: (finding: Finding) => void,
): IngressFlood {
  const states = new Map<string, PrincipalState>();
  const windowMs = policy.windowSec * 1000;

  /** Moves the state to the window of `now`, filing finished windows (zeros for empty ones). */
  function roll(s: PrincipalState, now: number): void {
    const window = Math.floor(now / windowMs);
    if (window === s.window) return;
    const gap = Math.min(window - s.window - 1, policy.baselineWindows);
    s.past.push(s.count, ...Array.from({ length: Math.max(0, gap) }, () => 0));
    if (s.past.length > policy.baselineWindows) s.past.splice(0, s.past.length - policy.baselineWindows);
    s.window = window;
    s.count = 0;
  }

  return {
    accepted(a, now = Date.now()) {
      if (policy.response === "off") return;
      let s = states.get(a.principal);
      if (s === undefined) {
        s = { window: Math.floor(now / windowMs), count: 0, past: [], until: 0, perSecond: 0 };
        states.set(a.principal, s);
      }
      roll(s, now);
      s.count += a.events;
      if (s.past.length < policy.warmupWindows || now < s.until) return;
      const baseline = median(s.past);
      const threshold = Math.max(policy.minEvents, policy.factor * baseline);
      if (s.count <= threshold) return;
      const perSecond = Math.max(1, baseline / policy.windowSec);
      if (policy.response === "throttle") {
        s.until = now + policy.throttleSec * 1000;
        s.perSecond = perSecond;
      } else s.until = now + windowMs; // alert: once per window
      report({
        detector: "ingress-flood",
        scope: { kind: "principal", name: a.principal },
        severity: "medium",
        summary: `Principal "${a.principal}" sent ${s.count} events within ${policy.windowSec} s, over ${policy.factor}× its median of ${baseline} per ${policy.windowSec} s over the last ${s.past.length} windows`,
        evidence: {
          events: s.count,
          windowSec: policy.windowSec,
          baselineMedian: baseline,
          baselineWindows: s.past.length,
          threshold,
          route: a.route,
          ip: a.ip,
          ...(policy.response === "throttle"
            ? { throttledToPerSecond: perSecond, throttleSec: policy.throttleSec }
            : {}),
        },
        response: policy.response === "throttle" ? "throttle" : "alert",
        at: now,
      });
    },
    throttled(principal, now = Date.now()) {
      const s = states.get(principal);
      return s !== undefined && policy.response === "throttle" && now < s.until ? s.perSecond : undefined;
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
