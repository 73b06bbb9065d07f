import type { DeniedBurstPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";

/** How many distinct targets, event ids and principals a finding's evidence lists. */
const EVIDENCE_ITEMS = 10;

export interface DeniedBurst {
  /** Counts one refused call; reports a finding when it completes a burst. */
  observe(denied: SignalOf<"capability.denied">, now?: number): void;
  /** Forgets a function's history (its quarantine was lifted: a new burst is a new finding). */
  reset(fn: string): void;
}

/**
 * Detector 3, privilege probing: a function whose grants refuse calls for `denials` distinct
 * (capability, target) pairs within `windowSec` is reported once (until `reset`). Only grant
 * refusals count (a secret, host, kv namespace or event type it was not given, or a capability that
 * does not exist), not limit refusals of granted calls: a sender can push a function over a limit
 * with big or many events, but it cannot make the function's code ask for what it was not granted.
 * Only distinct targets count: a probe learns something only from a target it has not tried, while
 * a deploy that lacks one grant asks for the same one on every invocation (the sandbox refuses it
 * each time; it is an alert in the audit log and metrics, not an attack to contain). Memory is
 * bounded: the last `denials` refused pairs per function of the manifest.
 */
export function createDeniedBurst(
  policy: DeniedBurstPolicy,
  report: (finding: Finding) => void,
): DeniedBurst {
  /** Per function, its refused pairs in the window, oldest first, each with its latest refusal. */
  const recent = new Map<string, Map<string, { denied: SignalOf<"capability.denied">; at: number }>>();
  /** When each function was last reported: once per quarantine, or per window when only alerting. */
  const reported = new Map<string, number>();
  const windowMs = policy.windowSec * 1000;
  return {
    observe(denied, now = Date.now()) {
      if (policy.response === "off" || !denied.grant) return;
      const last = reported.get(denied.fn);
      if (last !== undefined) {
        if (policy.response === "quarantine" || now - last <= windowMs) return;
        reported.delete(denied.fn);
      }
      const pairs = recent.get(denied.fn) ?? new Map();
      recent.set(denied.fn, pairs);
      const key = `${denied.capability}\u0000${denied.target}`;
      pairs.delete(key);
      pairs.set(key, { denied, at: now });
      for (const [k, v] of pairs) {
        if (pairs.size <= policy.denials && now - v.at <= windowMs) break;
        pairs.delete(k);
      }
      if (pairs.size < policy.denials) return;
      reported.set(denied.fn, now);
      const seen = [...pairs.values()];
      const first = seen[0]?.at ?? now;
      const count = seen.length;
      const evidence = {
        denials: count,
        windowSec: policy.windowSec,
        firstAt: new Date(first).toISOString(),
        capabilities: distinct(seen.map((d) => d.denied.capability)),
        targets: distinct(seen.map((d) => d.denied.target)),
        eventIds: distinct(seen.map((d) => d.denied.eventId)),
        principals: distinct(seen.map((d) => d.denied.principal)),
      };
      // A new finding needs a new burst.
      pairs.clear();
      report({
        detector: "denied-burst",
        scope: { kind: "function", name: denied.fn },
        severity: "high",
        summary: `Function "${denied.fn}" was refused ${count} different capability calls within ${Math.ceil((now - first) / 1000)} s (policy: ${policy.denials} within ${policy.windowSec} s): it asks for what it was not granted`,
        evidence,
        response: policy.response,
        at: now,
      });
    },
    reset(fn) {
      recent.delete(fn);
      reported.delete(fn);
    },
  };
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)].slice(0, EVIDENCE_ITEMS);
}
