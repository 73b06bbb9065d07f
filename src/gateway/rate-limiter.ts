import type { RateLimit } from "../manifest/index.ts";

/**
 * Token buckets by key. This store is in memory (one gateway); a shared store (NATS KV) implements
 * the same interface so several gateways share one budget.
 */
export interface RateLimitStore {
  /** Takes `cost` tokens from `key`'s bucket; returns 0 when allowed, else the ms until it would be. */
  take(key: string, limit: RateLimit, cost: number, now: number): number;
}

/**
 * Rate limit per client address, applied before authentication: it bounds floods of
 * unauthenticated requests and key guessing, while per-principal limits shape normal traffic.
 */
export const DEFAULT_CLIENT_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 20000, burst: 40000 });

/** An in-memory store holding at most `maxKeys` buckets (least recently used go first). */
export function createMemoryRateLimitStore(maxKeys = 100_000): RateLimitStore {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, limit, cost, now) {
      const b = buckets.get(key) ?? { tokens: limit.burst, at: now };
      buckets.delete(key); // re-insert below: Map order is then least-recently-used first
      b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
      b.at = now;
      let wait = 0;
      if (b.tokens >= cost) b.tokens -= cost;
      else wait = Math.ceil(((Math.min(cost, limit.burst) - b.tokens) / limit.perSecond) * 1000);
      buckets.set(key, b);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      return cost > limit.burst ? Math.max(wait, 1000) : wait;
    },
  };
}
