import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createKvIntegrity } from "./kv-integrity.ts";
import type { KvListOptions, KvPage, KvStore, ValueSealer } from "./kv-store.ts";

/** No encryption: for tests of the store itself. */
const PLAINTEXT: ValueSealer = { seal: (t) => t, open: (t) => t, activeVersion: () => 0 };

/**
 * Opens (or creates) the embedded key-value store at `file`: SQLite in WAL mode with
 * `synchronous=FULL`, one row per (namespace, key) holding the value as JSON, sealed by `sealer`
 * (bound to its namespace, key and version). Each write is its own fsync'd commit, so a `set` that
 * resolved survives a crash. Opening checks the rows against their sealed digest (kv-integrity.ts)
 * and throws KV_ROLLED_BACK if values were removed, added or put back to older copies.
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
  integrity.verify();
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
  // One write with the digest kept in step: the row's version before it goes into the same transaction.
  const write = <T>(namespace: string, key: string, apply: (from: number | undefined) => T): T => {
    db.exec("BEGIN IMMEDIATE");
    try {
      const row = get.get(namespace, key);
      const result = apply(row === undefined ? undefined : Number(row.version));
      db.exec("COMMIT");
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  };
  let closed = false;

  return {
    async get(namespace, key) {
      const row = get.get(namespace, key);
      return row === undefined
        ? undefined
        : JSON.parse(sealer.open(String(row.value), integrity.record(namespace, key, Number(row.version))));
    },
    async set(namespace, key, value) {
      const json = JSON.stringify(value);
      write(namespace, key, (from) => {
        const v = integrity.change(namespace, key, from);
        set.run(namespace, key, sealer.seal(json, integrity.record(namespace, key, v)), Date.now(), v);
      });
    },
    async delete(namespace, key) {
      return write(namespace, key, (from) => {
        if (from === undefined) return false;
        integrity.change(namespace, key, from, true);
        return Number(del.run(namespace, key).changes) > 0;
      });
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
      }
      return rows.length + moved;
    },
    async sealedVersions() {
      const versions = new Map(counts.all().map((r) => [Number(r.v), Number(r.n)]));
      for (const v of integrity.sealedVersions()) versions.set(v, (versions.get(v) ?? 0) + 1);
      return versions;
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
