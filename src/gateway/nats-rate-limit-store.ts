/**
 * Rate limits shared by every gateway: one token bucket per key in a NATS KV bucket, changed only by
 * compare-and-set (create for a new key, update on the revision read), so gateways racing for the
 * same key never both spend the same tokens: the loser reads again and decides again. Each gateway
 * sends at most one write per key at a time; takes arriving meanwhile are decided together in the
 * next write. A denial needs no write: the bucket as this gateway last wrote or read it can only
 * overstate the tokens left (others only take), so a denial from it stands. When the bucket cannot
 * answer, the store refuses (fail closed): a 503 with Retry-After, never an unlimited admission.
 */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { LRUCache } from "lru-cache";
import { isPalisadeError, PalisadeError } from "../errors.ts";
import type { RateLimit } from "../manifest/index.ts";
import { GATEWAY_RATE_STORE_UNAVAILABLE } from "./errors.ts";
import type { RateLimitStore } from "./rate-limiter.ts";
import { type TokenBucket, takeTokens } from "./token-bucket.ts";

export interface NatsRateLimitStoreOptions {
  /** Most keys whose last revision this gateway remembers (to write without reading first). @default 100000 */
  maxCachedKeys?: number;
  /** Compare-and-set attempts for one write before refusing with 503. @default 20 */
  maxAttempts?: number;
  /** Retry-After of the 503 when the bucket cannot answer. @default 1 */
  retryAfterSec?: number;
}

/** What this gateway last knew of a key: its bucket and KV revision (0: no live entry). */
interface Known {
  readonly bucket: TokenBucket | undefined;
  readonly revision: number;
}

interface Waiter {
  readonly limit: RateLimit;
  readonly cost: number;
  readonly now: number;
  resolve(wait: number): void;
  reject(err: unknown): void;
}

const CONFLICTS: ReadonlySet<number> = new Set([
  JetStreamApiCodes.StreamWrongLastSequence,
  JetStreamApiCodes.StreamWrongLastSequenceUnknown,
]);

/** A rate limit store over `kv` (opened by `openRateLimitBucket`), shared by every gateway using it. */
export function createNatsRateLimitStore(kv: KV, options: NatsRateLimitStoreOptions = {}): RateLimitStore {
  const maxCachedKeys = options.maxCachedKeys ?? 100_000;
  const maxAttempts = options.maxAttempts ?? 20;
  const retryAfterSec = options.retryAfterSec ?? 1;
  const cache = new LRUCache<string, Known>({ max: maxCachedKeys });
  // Keys with a write in flight → the takes waiting for the next one.
  const pending = new Map<string, Waiter[]>();

  function remember(key: string, known: Known): void {
    cache.set(key, known);
  }

  async function read(name: string, now: number): Promise<Known> {
    const entry = await kv.get(name);
    if (entry === null || entry.operation !== "PUT") return { bucket: undefined, revision: 0 };
    return { bucket: parseBucket(entry.string(), now), revision: entry.revision };
  }

  // Decides every take of `batch` on the freshest bucket and writes the result, retrying on conflict.
  async function settle(key: string, name: string, batch: readonly Waiter[]): Promise<number[]> {
    let known = cache.get(key);
    for (let attempt = 1; ; attempt++) {
      known ??= await read(name, batch[0]?.now ?? 0);
      let bucket = known.bucket;
      const waits: number[] = [];
      for (const w of batch) {
        const taken = takeTokens(bucket, w.limit, w.cost, w.now);
        bucket = taken.bucket;
        waits.push(taken.wait);
      }
      if (bucket === undefined || waits.every((w) => w > 0)) return waits;
      const value = JSON.stringify(bucket);
      try {
        const revision =
          known.revision === 0 ? await kv.create(name, value) : await kv.update(name, value, known.revision);
        remember(key, { bucket, revision });
        return waits;
      } catch (err) {
        if (!(err instanceof JetStreamApiError && CONFLICTS.has(err.code))) throw err;
        cache.delete(key);
        if (attempt >= maxAttempts)
          throw unavailable(`${maxAttempts} concurrent updates of one key in a row`, retryAfterSec, err);
        known = undefined;
        // Two gateways writing one hot key back to back would otherwise keep meeting: wait a random
        // moment (up to 1, 2, 4, then 8 ms) so that one of them gets through.
        await sleep(Math.random() * 2 ** Math.min(attempt - 1, 3));
      }
    }
  }

  async function drain(key: string): Promise<void> {
    const name = rateLimitKey(key);
    for (let batch = pending.get(key) ?? []; batch.length > 0; batch = pending.get(key) ?? []) {
      pending.set(key, []);
      try {
        const waits = await settle(key, name, batch);
        batch.forEach((w, i) => {
          w.resolve(waits[i] as number);
        });
      } catch (err) {
        const refusal = isPalisadeError(err)
          ? err
          : unavailable("the store does not answer", retryAfterSec, err);
        for (const w of batch) w.reject(refusal);
      }
    }
    pending.delete(key);
  }

  return {
    take(key, limit, cost, now) {
      const queued = pending.get(key);
      const known = queued === undefined ? cache.get(key) : undefined;
      if (known !== undefined) {
        const { wait } = takeTokens(known.bucket, limit, cost, now);
        if (wait > 0) return wait;
      }
      return new Promise<number>((resolve, reject) => {
        const waiter = { limit, cost, now, resolve, reject };
        if (queued !== undefined) queued.push(waiter);
        else {
          pending.set(key, [waiter]);
          void drain(key);
        }
      });
    },
  };
}

/**
 * The KV key of a rate limit key (`principal:<name>`, `ip:<address>`): its kind, then the SHA-256 of
 * the whole key in base64url, since principal names and IPv6 addresses hold characters KV keys may not.
 */
export function rateLimitKey(key: string): string {
  const kind = /^([a-z]+):/.exec(key)?.[1];
  const digest = createHash("sha256").update(key).digest("base64url");
  return kind === undefined ? digest : `${kind}.${digest}`;
}

// A value that is not a bucket (written by something else) counts as an empty one: fail closed.
function parseBucket(text: string, now: number): TokenBucket {
  try {
    const v = JSON.parse(text) as { tokens?: unknown; at?: unknown };
    if (Number.isFinite(v.tokens) && Number.isFinite(v.at))
      return { tokens: v.tokens as number, at: v.at as number };
  } catch {
    // falls through
  }
  return { tokens: 0, at: now };
}

function unavailable(why: string, retryAfterSec: number, cause: unknown): PalisadeError {
  return new PalisadeError(
    GATEWAY_RATE_STORE_UNAVAILABLE,
    `Cannot check the rate limit: ${why}; retry after ${retryAfterSec} s`,
    { status: 503, retryable: true, details: { retryAfterSec }, cause },
  );
}
