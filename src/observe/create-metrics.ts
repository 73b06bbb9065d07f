import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The platform's Prometheus metrics, on a registry of its own: Palisade's `palisade_*` ones and
 * prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`, unprefixed as
 * exporters name them). One set lives as long as its process: `dev` hands the same set to every
 * reload, so counters only go back to zero when the process restarts (what Prometheus expects).
 */
export interface Metrics {
  readonly registry: Registry;
  /**
   * Requests refused at ingress, by reason (unauthenticated, forbidden, invalid, too_large,
   * unsupported_media_type, rate_limited, replayed, not_found), error code and HTTP status.
   */
  readonly ingressRejected: Counter<"reason" | "code" | "status">;
  /** Events accepted durably, by source route. */
  readonly ingressAccepted: Counter<"source">;
  /** Capability calls a function made that its grants allowed, by function and kind. */
  readonly capabilityCalls: Counter<"fn" | "kind">;
  /** Capability calls refused, by function and kind. */
  readonly capabilityDenied: Counter<"fn" | "kind">;
  /** Granted capability calls refused for going over a function limit, by function and limit. */
  readonly capabilityLimited: Counter<"fn" | "limit">;
  /** ctx.log lines dropped or cut, by function and reason (rate, size, fields). */
  readonly functionLogLimited: Counter<"fn" | "reason">;
  /** Commits and writes of the kv store: a flood of writes shares commits. */
  readonly kvCommits: Counter;
  readonly kvWrites: Counter;
  /** Settled delivery attempts, by function and outcome (delivered, retry, failed). */
  readonly deliveries: Counter<"fn" | "outcome">;
  /** Wall-clock time of one invocation attempt, by function. */
  readonly invocationSeconds: Histogram<"fn">;
  /** Deliveries held back by a function's rate limit or daily budget, by function and hold. */
  readonly holds: Counter<"fn" | "hold">;
  /** Dead letters, pending deliveries and sandbox processes, read when scraped. */
  readonly dlqDepth: Gauge;
  readonly pendingDeliveries: Gauge;
  readonly poolSize: Gauge<"fn">;
  /** Sandbox processes that exited without being asked to, by function. */
  readonly sandboxCrashes: Counter<"fn">;
  /** Sandbox processes the host stopped for breaking a sandbox limit, by function and reason. */
  readonly sandboxStopped: Counter<"fn" | "reason">;
  /** 1 while a function is unavailable after crashing in a loop (its deliveries held), else 0. */
  readonly functionUnavailable: Gauge<"fn">;
  /** Detector findings, by detector, severity and response (alert, quarantine). */
  readonly anomalyFindings: Counter<"detector" | "severity" | "response">;
  /** 1 while a function is quarantined (its deliveries held until released or discarded), else 0. */
  readonly quarantined: Gauge<"fn">;
  /** Spend by the cost model, in US dollars, by function and the principal whose chain it was. */
  readonly costUsd: Counter<"fn" | "principal">;
}

/** A new set of the platform's metrics, the process and Node.js defaults included. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    ingressRejected: new Counter({
      name: "palisade_ingress_rejected_total",
      help: "Requests refused at ingress, by reason, error code and HTTP status.",
      labelNames: ["reason", "code", "status"] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: "palisade_deliveries_total",
      help: "Settled delivery attempts, by function and outcome (delivered, retry, failed).",
      labelNames: ["fn", "outcome"] as const,
      registers: [registry],
    }),
    invocationSeconds: new Histogram({
      name: "palisade_invocation_duration_seconds",
      help: "Wall-clock duration of one invocation attempt in its sandbox, by function.",
      labelNames: ["fn"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    holds: new Counter({
      name: "palisade_delivery_holds_total",
      help: "Times a function's deliveries were held back, by function and hold (rate_limit, budget, throttle, quarantine).",
      labelNames: ["fn", "hold"] as const,
      registers: [registry],
    }),
    dlqDepth: new Gauge({
      name: "palisade_dlq_depth",
      help: "Dead-lettered deliveries.",
      registers: [registry],
    }),
    pendingDeliveries: new Gauge({
      name: "palisade_pending_deliveries",
      help: "Deliveries waiting for their (next) attempt.",
      registers: [registry],
    }),
    poolSize: new Gauge({
      name: "palisade_pool_size",
      help: "Sandbox processes running, by function.",
      labelNames: ["fn"] as const,
      registers: [registry],
    }),
    sandboxCrashes: new Counter({
      name: "palisade_sandbox_crashes_total",
      help: "Sandbox processes that exited without being asked to (crashes, and stops for breaking a sandbox limit), by function.",
      labelNames: ["fn"] as const,
      registers: [registry],
    }),
    sandboxStopped: new Counter({
      name: "palisade_sandbox_stopped_total",
      help: "Sandbox processes the host stopped for breaking a sandbox limit, by function and reason (message_too_large, malformed_message, scratch_full).",
      labelNames: ["fn", "reason"] as const,
      registers: [registry],
    }),
    anomalyFindings: new Counter({
      name: "palisade_anomaly_findings_total",
      help: "Findings of the anomaly detectors, by detector, severity and response (alert, quarantine).",
      labelNames: ["detector", "severity", "response"] as const,
      registers: [registry],
    }),
    costUsd: new Counter({
      name: "palisade_cost_usd_total",
      help: "Spend by the cost model (cost.prices), in US dollars, by function and by the principal whose event started the chain.",
      labelNames: ["fn", "principal"] as const,
      registers: [registry],
    }),
    quarantined: new Gauge({
      name: "palisade_function_quarantined",
      help: "1 while a function is quarantined (its deliveries are held, pending, until palisade quarantine release or discard), else 0.",
      labelNames: ["fn"] as const,
      registers: [registry],
    }),
    functionUnavailable: new Gauge({
      name: "palisade_function_unavailable",
      help: "1 while a function is unavailable after crashing in a loop (its deliveries are held until its cool-down ends), else 0.",
      labelNames: ["fn"] as const,
      registers: [registry],
    }),
    ingressAccepted: new Counter({
      name: "palisade_ingress_accepted_total",
      help: "Events accepted durably at ingress, by source route.",
      labelNames: ["source"] as const,
      registers: [registry],
    }),
    capabilityCalls: new Counter({
      name: "palisade_capability_calls_total",
      help: "Capability calls allowed by the function's grants, by function and kind (emit, secret, egress, kv-read, kv-write).",
      labelNames: ["fn", "kind"] as const,
      registers: [registry],
    }),
    capabilityDenied: new Counter({
      name: "palisade_capability_denied_total",
      help: "Capability calls refused because the function's manifest does not grant them, by function and kind.",
      labelNames: ["fn", "kind"] as const,
      registers: [registry],
    }),
    capabilityLimited: new Counter({
      name: "palisade_capability_limited_total",
      help: "Granted capability calls refused for going over a function limit (capabilityCalls, emitsPerInvocation, fetchBytes, kvNamespaceBytes), by function and limit.",
      labelNames: ["fn", "limit"] as const,
      registers: [registry],
    }),
    functionLogLimited: new Counter({
      name: "palisade_function_log_limited_total",
      help: "ctx.log lines dropped (rate: over limits.logsPerSecond) or cut (size: over limits.logLineBytes; fields: not plain JSON data), by function and reason.",
      labelNames: ["fn", "reason"] as const,
      registers: [registry],
    }),
    kvCommits: new Counter({
      name: "palisade_kv_commits_total",
      help: "Transactions committed by the kv store (concurrent writes share one).",
      registers: [registry],
    }),
    kvWrites: new Counter({
      name: "palisade_kv_writes_total",
      help: "kv writes (set, delete) committed.",
      registers: [registry],
    }),
  };
}

/**
 * Prepares a set of metrics for another start of the platform in the same process (a `dev` reload):
 * counters and histograms keep counting, while the gauges, which describe the running platform
 * (pool sizes, quarantines, queue depths), start afresh so a removed function leaves no series.
 */
export function resetGauges(metrics: Metrics): void {
  for (const gauge of [
    metrics.dlqDepth,
    metrics.pendingDeliveries,
    metrics.poolSize,
    metrics.functionUnavailable,
    metrics.quarantined,
  ])
    gauge.reset();
}
