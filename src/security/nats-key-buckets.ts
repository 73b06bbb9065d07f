/**
 * The KV buckets a NATS deployment keeps its keys and secrets in, one set per app: the key ring's
 * wrapped data keys and seal counts, the sealing leases of running nodes (they expire on their own
 * when a node dies), and the sealed secret store. Nothing in them opens without the master key,
 * which stays on each node and never goes to NATS.
 */
import { jetstream } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { whenAnswering } from "../jetstream-ready.ts";

/** Bucket names (the bus's naming helpers derive them from the app's name). */
export interface KeyBucketNames {
  readonly keys: string;
  readonly leases: string;
  readonly secrets: string;
}

export interface KeyBuckets {
  readonly names: KeyBucketNames;
  /** `ring`: the wrapped data keys; `seals.<version>`: how many records each version sealed. */
  readonly keys: KV;
  /** One entry per running sealer, renewed every second; gone `LEASE_TTL_MS` after its last renewal. */
  readonly leases: KV;
  /** `store`: the sealed secret store (its history kept, to tell an older value put back). */
  readonly secrets: KV;
}

/** How long a node's sealing lease outlives its last renewal (a killed node's, then, at most). */
export const LEASE_TTL_MS = 10_000;
/** Revisions of the secret store kept: what a node just started compares the current one with. */
export const SECRETS_HISTORY = 16;

/** Creates (or opens) the buckets with `replicas` copies. */
export async function openKeyBuckets(
  nc: NatsConnection,
  names: KeyBucketNames,
  replicas: number,
): Promise<KeyBuckets> {
  const kvm = new Kvm(jetstream(nc));
  // Nodes starting at once on a fresh cluster: each bucket answers once its leader is elected.
  const open = async (name: string, options: Parameters<Kvm["create"]>[1]) => {
    const kv = await whenAnswering(() => kvm.create(name, options));
    await whenAnswering(() => kv.get("ready"));
    return kv;
  };
  return {
    names,
    keys: await open(names.keys, { replicas, history: 1 }),
    leases: await open(names.leases, { replicas, history: 1, ttl: LEASE_TTL_MS }),
    secrets: await open(names.secrets, { replicas, history: SECRETS_HISTORY }),
  };
}

/** The entry when it holds a value (not a delete or purge marker). */
export function live(e: KvEntry | null): KvEntry | undefined {
  return e !== null && e.operation === "PUT" ? e : undefined;
}

/**
 * Writes `value` over `entry` (or creates the key when `entry` is undefined): compare-and-set on the
 * key's revision. Resolves to the new revision, or undefined when another node changed it first (the
 * caller re-reads and tries again).
 */
export async function swap(
  kv: KV,
  key: string,
  entry: KvEntry | undefined,
  value: string,
): Promise<number | undefined> {
  try {
    return entry === undefined ? await kv.create(key, value) : await kv.update(key, value, entry.revision);
  } catch (err) {
    if (/wrong last sequence|exists/i.test(String(err))) return undefined;
    throw err;
  }
}

/** Tries of a compare-and-set loop before giving up (each lost try means another node wrote). */
export const MAX_TRIES = 100;
