import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../errors.ts";
import { createGroupCommit } from "../group-commit.ts";
import { KV_CLOSED, KV_QUOTA_EXCEEDED } from "./errors.ts";
import { createKvIntegrity } from "./kv-integrity.ts";
import type { KvListOptions, KvPage, KvSetOptions, KvStore, ValueSealer } from "./kv-store.ts";

/** No encryption: for tests of the store itself. */
const PLAINTEXT: ValueSealer = { seal: (t) => t, open: (t) => t, activeVersion: () => 0 };

/**
 * Opens (or creates) the embedded key-value store at `file`: SQLite in WAL mode with
 * `synchronous=FULL`, one row per (namespace, key) holding the value as JSON, sealed by `sealer`
 * (bound to its namespace, key and version). Writes share commits (group commit: one transaction and
 * one fsync per batch, so a flood of writes does not pay one fsync each on the main loop); a `set`
 * that resolved was committed and survives a crash. Opening checks the rows against their sealed
 * digest (kv-integrity.ts) and throws KV_ROLLED_BACK if values were removed, added or put back to
 * older copies; each write keeps the digest in step inside its own savepoint.
 */
export function openSqliteKvStore(file: string, sealer: ValueSealer = PLAINTEXT): KvStore {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS kv (
      namespace TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;`);
  const integrity = createKvIntegrity(db, sealer, file);
  try {
    integrity.verify();
  } catch (err) {
    db.close(); // a refused store leaves no handle on its file
    throw err;
  }
  const get = db.prepare("SELECT value, version FROM kv WHERE namespace = ? AND key = ?");
  const set = db.prepare(
    `INSERT INTO kv (namespace, key, value, updated_at, version) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
       version = excluded.version`,
  );
  const del = db.prepare("DELETE FROM kv WHERE namespace = ? AND key = ?");
  const list = db.prepare(
    `SELECT key FROM kv WHERE namespace = :ns AND key > :after AND substr(key, 1, length(:prefix)) = :prefix
     ORDER BY key LIMIT :limit`,
  );
  const version = `CASE WHEN value LIKE 'pal1.%' THEN CAST(substr(value, 6, instr(substr(value, 6), '.') - 1) AS INTEGER) ELSE 0 END`;
  const stale = db.prepare(`SELECT namespace, key, value, version FROM kv WHERE ${version} != ? LIMIT ?`);
  const reseal = db.prepare("UPDATE kv SET value = ? WHERE namespace = ? AND key = ?");
  const counts = db.prepare(`SELECT ${version} AS v, count(*) AS n FROM kv GROUP BY v`);
  const versionOf = (namespace: string, key: string): number | undefined => {
    const row = get.get(namespace, key);
    return row === undefined ? undefined : Number(row.version);
  };
  const writer = createGroupCommit(db);
  const quota = createNamespaceQuota(db);
  let closed = false;
  // A write queued after close would run on a closed file: refuse it instead.
  const write = <T>(op: () => T): Promise<T> =>
    closed
      ? Promise.reject(
          new PalisadeError(KV_CLOSED, "Cannot write to kv: the store is closed", { retryable: true }),
        )
      : writer.run(op);

  return {
    async get(namespace, key) {
      const row = get.get(namespace, key);
      return row === undefined
        ? undefined
        : JSON.parse(sealer.open(String(row.value), integrity.record(namespace, key, Number(row.version))));
    },
    async set(namespace, key, value, options: KvSetOptions = {}) {
      const json = JSON.stringify(value);
      // Inside the write's savepoint: the version and digest change with the row, or not at all.
      await quota.guard(namespace, () =>
        write(() => {
          const v = integrity.change(namespace, key, versionOf(namespace, key));
          const sealed = sealer.seal(json, integrity.record(namespace, key, v));
          quota.charge(namespace, key, sealed, options.maxNamespaceBytes);
          set.run(namespace, key, sealed, Date.now(), v);
        }),
      );
    },
    async delete(namespace, key) {
      return quota.guard(namespace, () =>
        write(() => {
          const from = versionOf(namespace, key);
          if (from === undefined) return false;
          integrity.change(namespace, key, from, true);
          quota.charge(namespace, key, undefined);
          return Number(del.run(namespace, key).changes) > 0;
        }),
      );
    },
    async list(namespace, { prefix = "", after = "", limit }: KvListOptions): Promise<KvPage> {
      // One more than asked says whether another page follows.
      const keys = list.all({ ns: namespace, after, prefix, limit: limit + 1 }).map((r) => String(r.key));
      const page = keys.slice(0, limit);
      const last = page.at(-1);
      return keys.length > limit && last !== undefined ? { keys: page, next: last } : { keys: page };
    },
    async reencrypt(limit) {
      const active = sealer.activeVersion();
      // Read inside the write transaction: a set that lands meanwhile is not overwritten with old data.
      db.exec("BEGIN IMMEDIATE");
      let rows: ReturnType<typeof stale.all> = [];
      let moved = 0;
      try {
        rows = stale.all(active, limit);
        for (const r of rows) {
          const rec = integrity.record(String(r.namespace), String(r.key), Number(r.version));
          reseal.run(sealer.seal(sealer.open(String(r.value), rec), rec), String(r.namespace), String(r.key));
        }
        if (rows.length < limit) moved = integrity.reseal(active); // the digest's own seals, last
        db.exec("COMMIT");
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      } finally {
        quota.forget(); // resealed values change their stored size
      }
      return rows.length + moved;
    },
    async sealedVersions() {
      const versions = new Map(counts.all().map((r) => [Number(r.v), Number(r.n)]));
      for (const v of integrity.sealedVersions()) versions.set(v, (versions.get(v) ?? 0) + 1);
      return versions;
    },
    writeStats() {
      return { commits: writer.stats.commits, writes: writer.stats.writes };
    },
    async close() {
      if (closed) return;
      // Let writes already queued commit before the file is closed.
      await writer.run(() => undefined);
      closed = true;
      db.close();
    },
  };
}

/**
 * Bytes each namespace holds (keys plus values as stored), read from the file once per namespace and
 * then kept up to date by the writes themselves. `charge` runs inside a write's savepoint: a refused
 * write changes nothing. Any failed write drops the namespace's figure, so it is read again.
 */
function createNamespaceQuota(db: DatabaseSync) {
  const total = db.prepare(
    "SELECT coalesce(sum(octet_length(key) + octet_length(value)), 0) AS n FROM kv WHERE namespace = ?",
  );
  const one = db.prepare("SELECT octet_length(value) AS n FROM kv WHERE namespace = ? AND key = ?");
  const used = new Map<string, number>();
  const usedBy = (ns: string): number => {
    let n = used.get(ns);
    if (n === undefined) {
      n = Number(total.get(ns)?.n ?? 0);
      used.set(ns, n);
    }
    return n;
  };
  return {
    charge(ns: string, key: string, sealed: string | undefined, max?: number): void {
      const old = one.get(ns, key);
      const keyBytes = Buffer.byteLength(key);
      const before = old === undefined ? 0 : keyBytes + Number(old.n);
      const after = sealed === undefined ? 0 : keyBytes + Buffer.byteLength(sealed);
      const next = usedBy(ns) - before + after;
      if (max !== undefined && after > before && next > max)
        throw new PalisadeError(
          KV_QUOTA_EXCEEDED,
          `Cannot write to kv namespace "${ns}": it would hold ${next} bytes, over its quota of ${max}; delete keys or raise limits.kvNamespaceBytes`,
          { status: 413 },
        );
      used.set(ns, next);
    },
    async guard<T>(ns: string, write: () => Promise<T>): Promise<T> {
      try {
        return await write();
      } catch (err) {
        if ((err as { code?: unknown }).code !== KV_QUOTA_EXCEEDED) used.delete(ns);
        throw err;
      }
    },
    forget: () => used.clear(),
  };
}
