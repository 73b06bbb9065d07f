import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { PalisadeError } from "../errors.ts";
import { GATEWAY_RATE_STORE_UNAVAILABLE } from "./errors.ts";

/**
 * How long an idle key's bucket is kept (the KV bucket's max age). A bucket that expires comes back
 * full, which is right only if it would have refilled by then: keep it above the slowest limit's
 * `burst / perSecond` seconds. @default 3600000 (1 h)
 */
export const DEFAULT_RATE_LIMIT_TTL_MS = 3_600_000;

/** How long one KV operation may take before the request is refused with 503. */
export const DEFAULT_RATE_LIMIT_TIMEOUT_MS = 2000;

export interface RateLimitBucketOptions {
  /** KV replicas; 3 in a cluster. @default 1 */
  replicas?: number;
  /** Max age of an idle key. @default DEFAULT_RATE_LIMIT_TTL_MS */
  ttlMs?: number;
  /** Timeout of one KV operation. @default DEFAULT_RATE_LIMIT_TIMEOUT_MS */
  timeoutMs?: number;
}

// Measured (DESIGN §8): nats-server before 2.9.21 loses compare-and-set updates on replicated buckets.
const MIN_REPLICATED_CAS: readonly [number, number, number] = [2, 9, 21];

/**
 * Opens (creating if missing) the KV bucket `name` holding the rate limits of every gateway of an
 * app: one value per key, kept `ttlMs` after its last change. An existing bucket is used as it is.
 * Refuses replicated buckets on servers whose compare-and-set is not safe on them.
 */
export async function openRateLimitBucket(
  nc: NatsConnection,
  name: string,
  options: RateLimitBucketOptions = {},
): Promise<KV> {
  const replicas = options.replicas ?? 1;
  const version = nc.info?.version ?? "0.0.0";
  if (replicas > 1 && older(version, MIN_REPLICATED_CAS))
    throw new PalisadeError(
      GATEWAY_RATE_STORE_UNAVAILABLE,
      `Cannot share rate limits on nats-server ${version} with ${replicas} replicas: compare-and-set on replicated KV is unsafe before ${MIN_REPLICATED_CAS.join(".")}; upgrade nats-server`,
    );
  const kvm = new Kvm(jetstream(nc, { timeout: options.timeoutMs ?? DEFAULT_RATE_LIMIT_TIMEOUT_MS }));
  try {
    return await kvm.create(name, { history: 1, ttl: options.ttlMs ?? DEFAULT_RATE_LIMIT_TTL_MS, replicas });
  } catch (err) {
    // Another gateway made it with other settings (e.g. an older TTL): share that one.
    if (/already in use/i.test(String((err as Error).message))) return kvm.open(name);
    throw new PalisadeError(
      GATEWAY_RATE_STORE_UNAVAILABLE,
      `Cannot open the rate limit bucket "${name}": ${(err as Error).message}`,
      { retryable: true, cause: err },
    );
  }
}

function older(version: string, than: readonly [number, number, number]): boolean {
  const have = (/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = than[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}
