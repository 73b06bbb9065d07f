import { LRUCache } from "lru-cache";
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
  // Evicting in O(1) matters: a flood from many client addresses keeps this full, and a Map's oldest
  // key sits behind every entry deleted since its last rehash (25–94 µs per take at 100,000 keys).
  const buckets = new LRUCache<string, TokenBucket>({ max: maxKeys });
  return {
    take(key, limit, cost, now) {
      const { bucket, wait } = takeTokens(buckets.get(key), limit, cost, now);
      buckets.set(key, bucket);
      return wait;
    },
  };
}
