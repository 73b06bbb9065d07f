import { Counter, Registry } from "prom-client";

/** The platform's Prometheus metrics, on a registry of its own (one per running app). */
export interface Metrics {
  readonly registry: Registry;
  /** Requests refused at ingress, by error code and HTTP status. */
  readonly ingressRejected: Counter<"reason" | "status">;
  /** Events accepted durably, by source route. */
  readonly ingressAccepted: Counter<"source">;
  /** Capability calls a function made that its grants allowed, by function and kind. */
  readonly capabilityCalls: Counter<"fn" | "kind">;
  /** Capability calls refused, by function and kind. */
  readonly capabilityDenied: Counter<"fn" | "kind">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  return {
    registry,
    ingressRejected: new Counter({
      name: "palisade_ingress_rejected_total",
      help: "Requests refused at ingress, by reason (error code) and HTTP status.",
      labelNames: ["reason", "status"] as const,
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
  };
}
