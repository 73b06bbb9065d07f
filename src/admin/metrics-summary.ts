/**
 * The dashboard's overview numbers, read from the platform's own Prometheus registry (what
 * `/metrics` serves), so the page and a scraper never disagree: events accepted and refused (by
 * reason), settled attempts by outcome, invocation latency, capability denials, DLQ depth and
 * pending work, detector findings, quarantines and spend. Counters are since this process started;
 * the page turns two readings into rates.
 */
import type { Metrics } from "../observe/index.ts";

export interface MetricsSummary {
  /** When this was read (ms). */
  readonly at: number;
  readonly accepted: number;
  readonly rejected: { readonly total: number; readonly byReason: Readonly<Record<string, number>> };
  readonly deliveries: { readonly delivered: number; readonly retry: number; readonly failed: number };
  /** Over every function's attempts, from the histogram's buckets (upper bounds): seconds, or null before any. */
  readonly latency: { readonly count: number; readonly p50: number | null; readonly p99: number | null };
  readonly denials: { readonly total: number; readonly byFunction: Readonly<Record<string, number>> };
  readonly dlqDepth: number;
  readonly pending: number;
  readonly findings: { readonly total: number; readonly byDetector: Readonly<Record<string, number>> };
  readonly quarantined: readonly string[];
  readonly costUsd: number;
}

interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
}

/** Reads `metrics` once and sums it up. */
export async function summarizeMetrics(metrics: Metrics): Promise<MetricsSummary> {
  const all = (await metrics.registry.getMetricsAsJSON()) as unknown as {
    name: string;
    values: Sample[];
  }[];
  const samples = (name: string): Sample[] => all.find((m) => m.name === name)?.values ?? [];
  const total = (name: string): number => samples(name).reduce((s, v) => s + v.value, 0);
  const by = (name: string, label: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const v of samples(name)) {
      const key = String(v.labels[label] ?? "");
      out[key] = (out[key] ?? 0) + v.value;
    }
    return out;
  };
  const outcomes = by("palisade_deliveries_total", "outcome");
  return {
    at: Date.now(),
    accepted: total("palisade_ingress_accepted_total"),
    rejected: {
      total: total("palisade_ingress_rejected_total"),
      byReason: by("palisade_ingress_rejected_total", "reason"),
    },
    deliveries: {
      delivered: outcomes.delivered ?? 0,
      retry: outcomes.retry ?? 0,
      failed: outcomes.failed ?? 0,
    },
    latency: latencyOf(samples("palisade_invocation_duration_seconds")),
    denials: {
      total: total("palisade_capability_denied_total"),
      byFunction: by("palisade_capability_denied_total", "fn"),
    },
    dlqDepth: total("palisade_dlq_depth"),
    pending: total("palisade_pending_deliveries"),
    findings: {
      total: total("palisade_anomaly_findings_total"),
      byDetector: by("palisade_anomaly_findings_total", "detector"),
    },
    quarantined: samples("palisade_function_quarantined")
      .filter((v) => v.value > 0)
      .map((v) => String(v.labels.fn)),
    costUsd: total("palisade_cost_usd_total"),
  };
}

/** p50 and p99 over every function's histogram: the upper bound of the bucket the quantile falls in. */
function latencyOf(samples: readonly Sample[]): MetricsSummary["latency"] {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.metricName !== "palisade_invocation_duration_seconds_bucket") continue;
    const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const count = sorted.at(-1)?.[1] ?? 0;
  const quantile = (q: number): number | null => {
    if (count === 0) return null;
    const bound = sorted.find(([, n]) => n >= q * count)?.[0];
    return bound === undefined || !Number.isFinite(bound) ? null : bound;
  };
  return { count, p50: quantile(0.5), p99: quantile(0.99) };
}
