import type { RateLimit } from "../manifest/index.ts";

/** The state of one token bucket: tokens left at time `at` (ms). */
export interface TokenBucket {
  readonly tokens: number;
  readonly at: number;
}

/**
 * Takes `cost` tokens from `bucket` (a missing bucket is full) at time `now`: the bucket after, and
 * 0 when allowed, else the ms until it would be. A cost larger than the burst can never pass (at
 * least 1000 ms). Time only moves forward: a `now` before the bucket's `at` (a clock that went back,
 * or a node whose clock is behind the one that wrote the bucket) refills nothing and keeps `at`, so
 * no clock can make a bucket refill twice for the same time.
 */
export function takeTokens(
  bucket: TokenBucket | undefined,
  limit: RateLimit,
  cost: number,
  now: number,
): { bucket: TokenBucket; wait: number } {
  const from = bucket ?? { tokens: limit.burst, at: now };
  const elapsed = Math.max(0, now - from.at);
  const tokens = Math.min(limit.burst, from.tokens + (elapsed / 1000) * limit.perSecond);
  const at = Math.max(from.at, now);
  if (tokens >= cost) return { bucket: { tokens: tokens - cost, at }, wait: 0 };
  const wait = Math.ceil(((Math.min(cost, limit.burst) - tokens) / limit.perSecond) * 1000);
  return { bucket: { tokens, at }, wait: cost > limit.burst ? Math.max(wait, 1000) : wait };
}
