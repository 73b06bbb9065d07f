import type { RateLimit } from "../manifest/index.ts";
import { type TokenBucket, takeTokens } from "./token-bucket.ts";

/**
 * Token buckets by key. The in-memory store serves one gateway and answers synchronously; a shared
 * store (NATS KV, nats-rate-limit-store.ts) answers with a promise so that several gateways share
 * one budget. The gateway awaits only when it gets a promise.
 */
export interface RateLimitStore {
  /**
   * Takes `cost` tokens from `key`'s bucket; 0 when allowed, else the ms until it would be. A shared
   * store rejects with a PalisadeError (503, retryable, `details.retryAfterSec`) when it cannot tell.
   */
  take(key: string, limit: RateLimit, cost: number, now: number): number | Promise<number>;
}

/**
 * Rate limit per client address, applied before authentication: it bounds floods of
 * unauthenticated requests and key guessing, while per-principal limits shape normal traffic.
 */
export const DEFAULT_CLIENT_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 20000, burst: 40000 });

/** A store that always answers at once (the in-memory one). */
export interface SyncRateLimitStore extends RateLimitStore {
  take(key: string, limit: RateLimit, cost: number, now: number): number;
}

/** An in-memory store holding at most `maxKeys` buckets (least recently used go first). */
export function createMemoryRateLimitStore(maxKeys = 100_000): SyncRateLimitStore {
  const buckets = new Map<string, TokenBucket>();
  return {
    take(key, limit, cost, now) {
      const { bucket, wait } = takeTokens(buckets.get(key), limit, cost, now);
      buckets.delete(key); // re-insert: Map order is then least-recently-used first
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      return wait;
    },
  };
}
