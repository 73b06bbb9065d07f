/**
 * The secret store every node of a NATS deployment shares: one document (the `store` entry of the
 * app's secrets bucket) in the same form as `secrets.json` — each value sealed by the shared key ring,
 * bound to the secret's name and the document's generation, and a sealed head listing the names — so
 * a value moved to another name, or copied from an older revision, does not open. Writes are
 * compare-and-set on the entry's revision; every node reads the newest document through a watch.
 *
 * Rollback (an older revision's content put back, by someone who can write the bucket but holds no
 * master key): the generation sealed inside the document only rises. A running node keeps the newest
 * generation it has read and ignores (and reports) an older one, keeping the last document it
 * trusted; writes on top of it are refused. At open, the floor is the highest generation among the
 * revisions the bucket keeps (SECRETS_HISTORY) and the node's own high-water mark (`markFile`, in its
 * data dir), so a node restarted after the history was purged still refuses it. Not protected: a
 * node that has never seen the newer generations, opening a bucket whose history was purged; and
 * deleting the entry, which removes every secret (requests then fail closed).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SECURITY_CONFLICT, SECURITY_ROLLBACK } from "./errors.ts";
import type { Sealer } from "./key-ring.ts";
import { type KeyBuckets, live, MAX_TRIES, swap } from "./nats-key-buckets.ts";
import { dropExpired, rotateEntry, snapshotReads } from "./secret-snapshot.ts";
import { checkName, type SecretReader } from "./secret-store.ts";
import {
  openEntries,
  parseSecrets,
  type SecretEntry,
  type SecretsSnapshot,
  sealSecrets,
} from "./secrets-file.ts";

/** A NATS deployment's secret store: reads are synchronous (the watched document), writes go to NATS. */
export interface SharedSecretStore extends SecretReader {
  set(name: string, value: string): Promise<void>;
  /** Replaces the value; the old one stays valid for `graceSec` seconds. */
  rotate(name: string, value: string, graceSec: number): Promise<void>;
  remove(name: string): Promise<boolean>;
  /** Re-seals every value not sealed with the active data key; resolves to how many. */
  reencrypt(): Promise<number>;
  /** Stops watching the bucket. */
  close(): Promise<void>;
}

export interface SharedSecretStoreOptions {
  /** The newest generation known from elsewhere; an older document is refused. @default 0 */
  floor?: number;
  /** Where this node keeps the newest generation it has seen, across restarts. */
  markFile?: string;
  /** Told (once per generation found) when the document became older than one already read. */
  onRollback?: (found: number, expected: number) => void;
}

const KEY = "store";

/** Opens the store in `buckets.secrets`, sealed by `sealer`; throws SECURITY_ROLLBACK for an older document. */
export async function openNatsSecretStore(
  buckets: KeyBuckets,
  sealer: Sealer,
  options: SharedSecretStoreOptions = {},
): Promise<SharedSecretStore> {
  const kv = buckets.secrets;
  const where = `in NATS bucket ${buckets.names.secrets}`;
  let highest = Math.max(options.floor ?? 0, readMark(options.markFile));
  for await (const e of await kv.history({ key: KEY })) {
    if (e.operation !== "PUT") continue;
    try {
      highest = Math.max(highest, parseSecrets(e.string(), sealer, where).generation);
    } catch {
      // A revision that does not open (a retired key, or planted) cannot raise the floor.
    }
  }
  let revision = 0;
  // The document as the bucket holds it now: undefined when there is none (or it was deleted).
  let latest: { snapshot: SecretsSnapshot } | { error: unknown } | undefined;
  let trusted: SecretsSnapshot = { generation: highest, entries: {} };
  let reported = -1;
  const raise = (s: SecretsSnapshot) => {
    trusted = s;
    if (s.generation > highest) {
      highest = s.generation;
      writeMark(options.markFile, highest);
    }
  };
  const first = live(await kv.get(KEY));
  if (first !== undefined) {
    const snapshot = parseSecrets(first.string(), sealer, where);
    if (snapshot.generation < highest) throw rolledBack(where, snapshot.generation, highest);
    [latest, revision] = [{ snapshot }, first.revision];
    raise(snapshot);
  }
  const watcher = await kv.watch({ key: KEY });
  const watching = (async () => {
    for await (const e of watcher) {
      if (e.revision <= revision) continue;
      revision = e.revision;
      if (e.operation !== "PUT") latest = undefined;
      else
        try {
          latest = { snapshot: parseSecrets(e.string(), sealer, where) };
        } catch (error) {
          latest = { error };
        }
    }
  })();

  // The document as it is now, or the last one trusted if it went back in time.
  const read = (): SecretsSnapshot => {
    if (latest === undefined) return { generation: highest, entries: {} }; // deleted: nothing is valid
    if ("error" in latest) throw latest.error;
    const now = latest.snapshot;
    if (now.generation >= highest) {
      raise(now);
      return now;
    }
    if (reported !== now.generation) options.onRollback?.(now.generation, highest);
    reported = now.generation;
    return trusted;
  };
  // Applies `change` to the entries in plaintext and writes them as the next generation (CAS).
  const update = async <T>(change: (plain: Record<string, SecretEntry>) => T): Promise<T> => {
    for (let i = 0; i < MAX_TRIES; i++) {
      const e = live(await kv.get(KEY));
      const now = e === undefined ? undefined : parseSecrets(e.string(), sealer, where);
      if (now !== undefined && now.generation < highest) throw rolledBack(where, now.generation, highest);
      const plain = now === undefined ? {} : openEntries(now, sealer);
      const result = change(plain);
      const generation = Math.max(highest, now?.generation ?? 0) + 1;
      const { text, snapshot } = sealSecrets(sealer, generation, plain);
      const rev = await swap(kv, KEY, e, text);
      if (rev === undefined) continue; // another node wrote first: again, on top of theirs
      if (rev > revision) [latest, revision] = [{ snapshot }, rev];
      raise(snapshot);
      return result;
    }
    throw new PalisadeError(
      SECURITY_CONFLICT,
      `Cannot change the secret store ${where}: other nodes changed it first ${MAX_TRIES} times in a row; try again`,
    );
  };
  const reads = snapshotReads(read, sealer);

  return {
    get: reads.get,
    values: reads.values,
    list: reads.list,
    versions: reads.versions,
    generation: () => highest,
    async set(name, value) {
      checkName(name);
      await update((plain) => {
        plain[name] = { value };
      });
    },
    async rotate(name, value, graceSec) {
      checkName(name);
      await update((plain) => rotateEntry(plain, name, value, graceSec));
    },
    async remove(name) {
      if (!(name in read().entries)) return false;
      return update((plain) => delete plain[name]);
    },
    async reencrypt() {
      const stale = reads.stale();
      if (stale > 0) await update(dropExpired);
      return stale;
    },
    async close() {
      watcher.stop();
      await watching;
    },
  };
}

function rolledBack(where: string, found: number, expected: number): PalisadeError {
  return new PalisadeError(
    SECURITY_ROLLBACK,
    `The secret store ${where} is generation ${found}, but generation ${expected} was already written: an older value was put back, which could bring back revoked or rotated secrets. Put the newest value back, or, if you went back on purpose, purge the entry (nats kv purge ${where.replace("in NATS bucket ", "")} ${KEY}), remove each node's .palisade/${SECRETS_MARK_FILE} and set every secret again`,
  );
}

/** This node's high-water mark of the shared secret store, in its data dir. */
export const SECRETS_MARK_FILE = "secrets.nats-generation";

function readMark(file: string | undefined): number {
  if (file === undefined || !existsSync(file)) return 0;
  const n = Number(readFileSync(file, "utf8").trim());
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

function writeMark(file: string | undefined, generation: number): void {
  if (file === undefined || readMark(file) >= generation) return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${generation}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
