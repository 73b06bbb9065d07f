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
 * Detector 3, privilege probing: a function whose calls its grants refuse `denials` times within
 * `windowSec` is reported once (until `reset`). Only grant refusals count (a secret, host, kv
 * namespace or event type it was not given, or a capability that does not exist), not limit
 * refusals of granted calls: a sender can push a function over a limit with big or many events,
 * but it cannot make the function's code ask for what it was not granted. Memory is bounded: the
 * last `denials` refusals per function of the manifest.
 */
export function createDeniedBurst(
  policy: DeniedBurstPolicy,
  report: (finding: Finding) => void,
): DeniedBurst {
  const recent = new Map<string, SignalOf<"capability.denied">[]>();
  const times = new Map<string, number[]>();
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
      const seen = recent.get(denied.fn) ?? [];
      const at = times.get(denied.fn) ?? [];
      seen.push(denied);
      at.push(now);
      while (at.length > policy.denials || (at[0] !== undefined && now - at[0] > windowMs)) {
        at.shift();
        seen.shift();
      }
      recent.set(denied.fn, seen);
      times.set(denied.fn, at);
      if (at.length < policy.denials) return;
      reported.set(denied.fn, now);
      const first = at[0] ?? now;
      const count = at.length;
      const evidence = {
        denials: count,
        windowSec: policy.windowSec,
        firstAt: new Date(first).toISOString(),
        capabilities: distinct(seen.map((d) => d.capability)),
        targets: distinct(seen.map((d) => d.target)),
        eventIds: distinct(seen.map((d) => d.eventId)),
        principals: distinct(seen.map((d) => d.principal)),
      };
      // A new finding needs a new burst.
      at.length = 0;
      seen.length = 0;
      report({
        detector: "denied-burst",
        scope: { kind: "function", name: denied.fn },
        severity: "high",
        summary: `Function "${denied.fn}" was refused ${count} capability calls within ${Math.ceil((now - first) / 1000)} s (policy: ${policy.denials} within ${policy.windowSec} s): it asks for what it was not granted`,
        evidence,
        response: policy.response,
        at: now,
      });
    },
    reset(fn) {
      recent.delete(fn);
      times.delete(fn);
      reported.delete(fn);
    },
  };
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)].slice(0, EVIDENCE_ITEMS);
}
