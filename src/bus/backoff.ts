import type { RetryPolicy } from "../manifest/index.ts";

/**
 * Delay before the attempt after `attempt` (1-based). Fixed: the initial delay. Exponential: "full
 * jitter" — uniformly random up to the doubled-and-capped delay — so retries of many failing events
 * spread out instead of arriving in waves. `random` is injectable for tests.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  if (policy.backoff === "fixed") return policy.initialDelayMs;
  const cap = Math.min(policy.initialDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  return Math.round(random() * cap);
}
