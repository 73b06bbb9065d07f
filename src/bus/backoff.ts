import type { RetryPolicy } from "../manifest/index.ts";

/** Delay before the attempt after `attempt` (1-based): fixed, or doubling from the initial delay, capped. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const delay =
    policy.backoff === "fixed" ? policy.initialDelayMs : policy.initialDelayMs * 2 ** (attempt - 1);
  return Math.min(delay, policy.maxDelayMs);
}
