import type { FunctionSpec, Prices } from "../manifest/index.ts";
import type { CostParts } from "../signals/index.ts";

/** Nano-dollars per US dollar: costs are counted in whole nano-dollars (1e-9 US$). */
export const NANO_PER_USD = 1e9;

const GB = 1024 ** 3;
const CHUNK = 64 * 1024;

/** What one attempt used, as the cost model prices it. */
export interface AttemptUsage {
  readonly durationMs: number;
  readonly memoryMb: number;
  /** Serialized size of the event's data handed to the attempt. */
  readonly payloadBytes: number;
  /** Response bytes its ctx.fetch calls received. */
  readonly egressBytes: number;
  readonly capabilityCalls: number;
}

/**
 * The cost of one attempt in nano-dollars, by item: a request, wall time × memory (GB-seconds, as
 * Lambda bills), bytes received from outside, 64 KiB chunks of event data (as EventBridge bills),
 * and capability calls.
 */
export function costOf(prices: Prices, use: AttemptUsage): CostParts {
  const nano = (usd: number) => Math.round(usd * NANO_PER_USD);
  return {
    request: nano(prices.request),
    compute: nano((use.durationMs / 1000) * (use.memoryMb / 1024) * prices.gbSecond),
    egress: nano((use.egressBytes / GB) * prices.egressGb),
    payload: nano(Math.max(1, Math.ceil(use.payloadBytes / CHUNK)) * prices.payload64k),
    capabilityCalls: nano(use.capabilityCalls * prices.capabilityCall),
  };
}

/** Sum of an attempt's cost items. */
export function totalOf(parts: CostParts): number {
  return parts.request + parts.compute + parts.egress + parts.payload + parts.capabilityCalls;
}

/**
 * What an attempt of `fn` is reserved before it starts: its most by what is known then (a request,
 * its whole timeout at its memory, its event's data). Egress and capability calls are settled after.
 */
export function reserveOf(prices: Prices, fn: FunctionSpec, payloadBytes: number): number {
  return totalOf(
    costOf(prices, {
      durationMs: fn.limits.timeoutMs,
      memoryMb: fn.limits.memoryMb,
      payloadBytes,
      egressBytes: 0,
      capabilityCalls: 0,
    }),
  );
}

/** The UTC day of `at` (epoch ms), as `YYYY-MM-DD`: budgets are per UTC day. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** Epoch ms when the UTC day of `at` ends. */
export function endOfUtcDay(at: number): number {
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
