/**
 * The key ring every node of a NATS deployment shares: the data keys, wrapped by the master key as in
 * `keyring.json`, live in the `ring` entry of the app's key bucket, so a worker opens what a gateway
 * sealed and a rotation on one node reaches all. The master key never goes to NATS: each node holds
 * its own copy (PALISADE_MASTER_KEY or keys/master.key), and one with another master key is refused
 * at open. Changes (create, rotate, retire) are compare-and-set on the entry's revision, so two
 * concurrent rotations each add exactly one version.
 *
 * Sealing stays synchronous: the ring is read at open and kept current by a watch on the bucket. A
 * node that meets a record sealed with a version it has not seen yet re-reads the bucket before
 * refusing it (`knows` and `refresh`, called by the store before it opens a batch).
 *
 * Seals are counted per version in `seals.<version>` (added every 10 s and at close), and the ring
 * rotates on its own at the seal limit, as the file ring does. A node that seals holds a lease in the
 * lease bucket naming the versions it sealed with lately; `retire` refuses a version a lease names.
 * A killed node's lease expires LEASE_TTL_MS after its last renewal. Not covered, as with files: a
 * record held in memory longer than a lease period between sealing and writing, and CLI processes
 * (they hold no lease and seal within milliseconds of reading the ring).
 */
import { createHmac, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KvEntry } from "@nats-io/kv";
import { PalisadeError } from "../errors.ts";
import { SECURITY_KEY_IN_USE, SECURITY_KEYRING, SECURITY_SEAL_BROKEN } from "./errors.ts";
import {
  type KeyRingFile,
  type KeyRingOptions,
  LEASE_MS,
  MAC_PURPOSE,
  type MasterKeyProvider,
  openWith,
  SEAL_LIMIT,
  type Sealer,
  sealWith,
  versionOf,
} from "./key-ring.ts";
import { type KeyBuckets, LEASE_TTL_MS, live, MAX_TRIES, swap } from "./nats-key-buckets.ts";

/** One data key version as `keys status` shows it. */
export interface KeyVersion {
  version: number;
  createdAt: string;
  retired: boolean;
  seals: number;
}

/** The key ring of a NATS deployment: sealing is synchronous, changes go through the bucket. */
export interface SharedKeyRing extends Sealer {
  /** Every data key version, oldest first, with how many records it has sealed. */
  versions(): KeyVersion[];
  /** Adds a data key version and makes it the active one for every node; resolves to it. */
  rotate(): Promise<number>;
  /** Retires `version` (its wrapped key is deleted); refused while active or a live node's lease names it. */
  retire(version: number): Promise<void>;
  /** The running nodes ("host pid N") whose lease names `version`. */
  sealingWith(version: number): Promise<string[]>;
  /** Declares this process a sealer until close(): a lease renewed every `intervalMs`. */
  holdLease(intervalMs?: number): { close(): Promise<void> };
  /** Whether this node holds the data key of `version` now. */
  knows(version: number): boolean;
  /** Re-reads the ring from the bucket (a version another node just added). */
  refresh(): Promise<void>;
  /** Adds the seals counted here to the bucket. */
  flush(): Promise<void>;
  /** Stops watching the bucket (and flushes the counts). */
  close(): Promise<void>;
}

export interface SharedKeyRingOptions extends KeyRingOptions {
  /** Told when a change seen on the bucket cannot be used (the ring kept is the last good one). */
  onError?: (err: unknown) => void;
}

const RING = "ring";
const SEALS = "seals.";
const FLUSH_MS = 10_000;

/**
 * Opens the ring in `buckets.keys`, creating version 1 when the bucket holds none (the first node to
 * start, as `dev` does with a file: what is protected is the master key, which is never created here).
 */
export async function openNatsKeyRing(
  buckets: KeyBuckets,
  master: MasterKeyProvider,
  options: SharedKeyRingOptions = {},
): Promise<SharedKeyRing> {
  const { keys: kv, leases } = buckets;
  const where = `NATS bucket ${buckets.names.keys}`;
  const sealLimit = options.sealLimit ?? SEAL_LIMIT;
  let state: KeyRingFile = { active: 0, keys: [] };
  let revision = 0;
  const dataKeys = new Map<number, Buffer>();
  const stored = new Map<number, number>();
  const pending = new Map<number, number>();
  let sealedNow = new Set<number>();
  let sealedBefore = new Set<number>();
  let rotating: Promise<unknown> | undefined;

  /** Takes `text` (revision `rev`) as the ring, if newer; throws when this master key cannot unwrap it. */
  function apply(text: string, rev: number): void {
    if (rev <= revision) return;
    const next = parseRing(text, where);
    checkForward(state, next, where);
    const unwrapped = new Map<number, Buffer>();
    for (const k of next.keys) {
      if (k.retired) continue;
      try {
        unwrapped.set(k.version, master.unwrap(k.wrapped, k.version));
      } catch (err) {
        throw new PalisadeError(
          SECURITY_KEYRING,
          `Cannot unwrap data key ${k.version} in ${where}: this node's master key (${master.name}) is not the one the ring was made with. Give every node of the deployment the same master key (PALISADE_MASTER_KEY or keys/master.key)`,
          { cause: err },
        );
      }
    }
    [state, revision] = [next, rev];
    dataKeys.clear();
    for (const [v, key] of unwrapped) dataKeys.set(v, key);
  }
  async function current(): Promise<KvEntry> {
    const e = live(await kv.get(RING));
    if (e === undefined)
      throw new PalisadeError(
        SECURITY_KEYRING,
        `The key ring in ${where} is gone: records sealed with its keys no longer open. Restore the bucket from a backup`,
      );
    apply(e.string(), e.revision);
    return e;
  }
  /** Writes `change(state)` over the ring by compare-and-set; `change` returns undefined to write nothing. */
  async function update<T>(change: (ring: KeyRingFile) => { ring?: KeyRingFile; result: T }): Promise<T> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const e = await current();
      const { ring, result } = change(structuredClone(state));
      if (ring === undefined) return result;
      const text = JSON.stringify(ring);
      const rev = await swap(kv, RING, e, text);
      if (rev !== undefined) {
        apply(text, rev);
        return result;
      }
    }
    throw new PalisadeError(
      SECURITY_KEYRING,
      `Cannot change the key ring in ${where}: other nodes changed it first ${MAX_TRIES} times in a row; try again`,
    );
  }
  const newKey = (version: number) => ({
    version,
    wrapped: master.wrap(randomBytes(32), version),
    createdAt: new Date().toISOString(),
  });
  const total = (version: number) => (stored.get(version) ?? 0) + (pending.get(version) ?? 0);
  const rotate = (ifAtLimit = false): Promise<number> =>
    update((ring) => {
      if (ifAtLimit && total(ring.active) < sealLimit) return { result: ring.active };
      const version = Math.max(0, ...ring.keys.map((k) => k.version)) + 1;
      return { ring: { active: version, keys: [...ring.keys, newKey(version)] }, result: version };
    });

  // The ring, created by the first node to find the bucket empty (compare-and-set: one of them wins).
  for (let i = 0; revision === 0; i++) {
    const e = live(await kv.get(RING));
    if (e !== undefined) apply(e.string(), e.revision);
    else if (i < MAX_TRIES) {
      const text = JSON.stringify({ active: 1, keys: [newKey(1)] });
      const rev = await swap(kv, RING, undefined, text);
      if (rev !== undefined) apply(text, rev);
    } else throw new PalisadeError(SECURITY_KEYRING, `Cannot create the key ring in ${where}; try again`);
  }
  for await (const key of await kv.keys(`${SEALS}>`)) {
    const e = live(await kv.get(key));
    if (e !== undefined) stored.set(Number(key.slice(SEALS.length)), Number(e.string()) || 0);
  }
  // From the last values on (not only updates): a change made between the reads above and this
  // watch is not missed; one already applied is skipped by its revision.
  const watcher = await kv.watch();
  const watching = (async () => {
    for await (const e of watcher) {
      try {
        if (e.key === RING && e.operation === "PUT") apply(e.string(), e.revision);
        else if (e.key.startsWith(SEALS) && e.operation === "PUT")
          stored.set(Number(e.key.slice(SEALS.length)), Number(e.string()) || 0);
      } catch (err) {
        options.onError?.(err);
      }
    }
  })();

  async function flush(): Promise<void> {
    for (const [version, n] of [...pending]) {
      const key = `${SEALS}${version}`;
      for (let i = 0; i < MAX_TRIES; i++) {
        const e = live(await kv.get(key));
        const sum = (e === undefined ? 0 : Number(e.string()) || 0) + n;
        if ((await swap(kv, key, e, String(sum))) !== undefined) {
          stored.set(version, sum);
          pending.set(version, (pending.get(version) ?? 0) - n);
          if (pending.get(version) === 0) pending.delete(version);
          break;
        }
      }
    }
  }
  function keyFor(version: number): Buffer {
    const key = dataKeys.get(version);
    if (key !== undefined) return key;
    void refresh().catch(() => undefined); // a version added since the last change the watch brought
    throw new PalisadeError(
      SECURITY_SEAL_BROKEN,
      `Data key version ${version} is retired or unknown (${where} does not hold it)`,
    );
  }
  async function refresh(): Promise<void> {
    await current();
  }
  /** The version to seal with: the active one; at the seal limit a rotation starts in the background. */
  function sealingVersion(): number {
    const before = state.active;
    if (total(before) >= sealLimit && rotating === undefined)
      rotating = rotate(true)
        .then((v) => {
          if (v !== before) options.onAutoRotate?.(v);
        })
        .catch((err: unknown) => options.onError?.(err))
        .finally(() => {
          rotating = undefined;
        });
    return before;
  }

  const macKey = master.deriveKey(MAC_PURPOSE);
  return {
    mac: (text) => createHmac("sha256", macKey).update(text, "utf8").digest("base64url"),
    seal(plaintext, record) {
      const version = sealingVersion();
      pending.set(version, (pending.get(version) ?? 0) + 1);
      sealedNow.add(version);
      return sealWith(keyFor(version), version, plaintext, record);
    },
    open: (sealed, record) => openWith(keyFor, sealed, record),
    versionOf,
    activeVersion: () => state.active,
    versions: () =>
      state.keys.map((k) => ({
        version: k.version,
        createdAt: k.createdAt,
        retired: k.retired === true,
        seals: total(k.version),
      })),
    rotate: () => rotate(),
    async retire(version) {
      const holders = await sealingWithIn(leases, version);
      await update((ring) => {
        if (version === ring.active)
          throw new PalisadeError(SECURITY_KEYRING, `Data key ${version} is the active one; rotate first`);
        if (holders.length > 0)
          throw new PalisadeError(
            SECURITY_KEY_IN_USE,
            `Data key ${version} may still be sealing records on a running node (${holders.join(", ")}); it moves to the new key within a few seconds of a rotation, retry then`,
          );
        const k = ring.keys.find((x) => x.version === version);
        if (k === undefined)
          throw new PalisadeError(SECURITY_KEYRING, `There is no data key version ${version}`);
        if (k.retired) return { result: undefined };
        Object.assign(k, { retired: true, wrapped: "" });
        return { ring, result: undefined };
      });
    },
    sealingWith: (version) => sealingWithIn(leases, version),
    holdLease(intervalMs = LEASE_MS) {
      const name = `${hostname().replace(/[^A-Za-z0-9_-]/g, "_")}_${process.pid}_${randomBytes(4).toString("hex")}`;
      let flushedAt = Date.now();
      const renew = async () => {
        const versions = [...new Set([state.active, ...sealedBefore, ...sealedNow])].sort((a, b) => a - b);
        sealedBefore = sealedNow;
        sealedNow = new Set();
        await leases.put(
          name,
          JSON.stringify({
            host: hostname(),
            pid: process.pid,
            versions,
            renewedAt: new Date().toISOString(),
          }),
        );
        if (Date.now() - flushedAt >= FLUSH_MS) {
          flushedAt = Date.now();
          await flush();
        }
      };
      // The first renewal is awaited by nobody: sealing does not wait for NATS; until it lands, a
      // rotation's retire waits on the node's older lease or finds none (a node just started).
      let renewing = renew().catch(() => undefined);
      const timer = setInterval(() => {
        renewing = renewing.then(() => renew().catch(() => undefined));
      }, intervalMs);
      timer.unref();
      return {
        async close() {
          clearInterval(timer);
          await renewing;
          await leases.delete(name).catch(() => undefined);
          await flush().catch(() => undefined);
        },
      };
    },
    knows: (version) => dataKeys.has(version),
    refresh,
    flush,
    async close() {
      await flush().catch(() => undefined);
      watcher.stop();
      await watching;
    },
  };
}

/** Holders ("host pid N") of the live leases in `leases` naming `version`; an unreadable one names every version. */
async function sealingWithIn(leases: KeyBuckets["leases"], version: number): Promise<string[]> {
  const holders: string[] = [];
  for await (const key of await leases.keys()) {
    const e = live(await leases.get(key));
    if (e === undefined) continue;
    let lease: { host?: unknown; pid?: unknown; versions?: unknown; renewedAt?: unknown };
    try {
      lease = e.json();
    } catch {
      lease = {};
    }
    // The bucket's TTL removes a dead node's lease; one renewed long ago is its leftover.
    if (typeof lease.renewedAt === "string" && Date.parse(lease.renewedAt) < Date.now() - LEASE_TTL_MS * 2)
      continue;
    if (!Array.isArray(lease.versions) || lease.versions.includes(version))
      holders.push(`${String(lease.host ?? key)} pid ${String(lease.pid ?? "?")}`);
  }
  return holders;
}

/**
 * Refuses a ring that goes back from `before`: a lower active version, a version gone, or a retired
 * one back. Someone who can write the bucket (but holds no master key) could otherwise put back an
 * older copy and have every node seal with a key the operator retired.
 */
function checkForward(before: KeyRingFile, next: KeyRingFile, where: string): void {
  const back =
    next.active < before.active ||
    before.keys.some((k) => {
      const now = next.keys.find((x) => x.version === k.version);
      return now === undefined || (k.retired === true && now.retired !== true);
    });
  if (back)
    throw new PalisadeError(
      SECURITY_KEYRING,
      `The key ring in ${where} went back to an older copy (active version ${next.active}, this node has seen ${before.active}); it is ignored. Restore the newest copy of the bucket`,
    );
}

function parseRing(text: string, where: string): KeyRingFile {
  try {
    const ring = JSON.parse(text) as KeyRingFile;
    if (!Number.isInteger(ring.active) || !Array.isArray(ring.keys)) throw new Error("not a key ring");
    return ring;
  } catch (err) {
    throw new PalisadeError(
      SECURITY_KEYRING,
      `The key ring in ${where} cannot be read (${err instanceof Error ? err.message : String(err)}); restore the bucket from a backup`,
      { cause: err },
    );
  }
}
