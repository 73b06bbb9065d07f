/**
 * What the platform keeps of its signals (src/signals/): metrics count them, the audit log records
 * the security decisions among them, and the log says what an operator should see. Each sink is a
 * subscriber; the emitters (capability host, dispatcher, gateway) know none of them.
 */
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import { REFUSAL_REASONS } from "./bus/index.ts";
import { toPalisadeError } from "./errors.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import { createSignals, type SignalOf, type Signals } from "./signals/index.ts";

/** Where signals are kept; each is optional (`palisade invoke` has only a logger). */
export interface SignalSinks {
  logger: Logger;
  metrics?: Metrics | undefined;
  audit?: AuditLog | undefined;
}

/** A signal stream whose listener failures are logged, with `sinks` subscribed. */
export function createKeptSignals(sinks: SignalSinks): Signals {
  const signals = createSignals((err, kind) =>
    sinks.logger.error({ err: toPalisadeError(err).message, signal: kind }, "a signal listener failed"),
  );
  keepSignals(signals, sinks);
  return signals;
}

/** Subscribes the metrics, audit and log sinks to `signals`. */
export function keepSignals(signals: Signals, { logger, metrics, audit }: SignalSinks): void {
  signals.on("capability.used", (s) => metrics?.capabilityCalls.inc({ fn: s.fn, kind: s.capability }));
  signals.on("capability.denied", (s) => {
    metrics?.capabilityDenied.inc({ fn: s.fn, kind: s.capability });
    audit?.record({
      kind: AUDIT_KIND.capabilityDenied,
      actor: `function:${s.fn}`,
      subject: s.target,
      outcome: "denied",
      details: { capability: s.capability, eventId: s.eventId, reason: s.reason },
    });
    logger.warn(
      { fn: s.fn, eventId: s.eventId, cap: s.capability, target: s.target },
      `capability denied: ${s.reason}`,
    );
  });
  // Every refusal is counted; the first of each limit per invocation is audited and logged.
  signals.on("capability.limited", (s) => {
    metrics?.capabilityLimited.inc({ fn: s.fn, limit: s.limit });
    if (!s.first) return;
    audit?.record({
      kind: AUDIT_KIND.capabilityDenied,
      actor: `function:${s.fn}`,
      subject: `limits.${s.limit}`,
      outcome: "denied",
      details: { capability: s.capability, eventId: s.eventId, limit: s.limit, reason: s.reason },
    });
    logger.warn(
      { fn: s.fn, eventId: s.eventId, cap: s.capability, limit: s.limit },
      `capability limited: ${s.reason}`,
    );
  });
  signals.on("invocation.settled", (s) => {
    metrics?.deliveries.inc({ fn: s.fn, outcome: s.outcome });
    if (s.outcome === "failed" && audit !== undefined) auditDeadLetter(audit, s);
    logSettled(logger, s);
  });
  signals.on("delivery.held", (s) => metrics?.holds.inc({ fn: s.fn, hold: s.hold }));
  signals.on("ingress.rejected", (r) =>
    audit?.record({
      kind: AUDIT_KIND.ingressRejected,
      ...(r.principal === undefined ? {} : { actor: r.principal }),
      outcome: "denied",
      details: { reason: r.reason, code: r.code, status: r.status, ip: r.ip, route: r.route },
    }),
  );
}

function auditDeadLetter(audit: AuditLog, s: SignalOf<"invocation.settled">): void {
  const refused = s.reason !== undefined && REFUSAL_REASONS.has(s.reason as never);
  audit.record({
    kind: refused ? AUDIT_KIND.deliveryRefused : AUDIT_KIND.deadLettered,
    subject: s.fn,
    outcome: refused ? "denied" : "error",
    details: {
      eventId: s.eventId,
      type: s.type,
      reason: s.reason ?? "",
      attempts: s.attempt,
      ...(refused ? { error: s.error ?? "" } : {}),
    },
  });
}

function logSettled(logger: Logger, s: SignalOf<"invocation.settled">): void {
  const fields = { fn: s.fn, eventId: s.eventId, type: s.type, attempt: s.attempt };
  if (s.outcome === "delivered") logger.info(fields, "delivered");
  else if (s.outcome === "retry")
    logger.warn(
      { ...fields, error: s.error, retryAt: new Date(s.retryAt ?? 0).toISOString() },
      "attempt failed; will retry",
    );
  else logger.error({ ...fields, error: s.error }, "delivery failed");
}
