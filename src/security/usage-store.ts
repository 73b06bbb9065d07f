/**
 * What each function actually used of its grants, and what it was refused: the evidence for
 * `palisade permissions report` (granted vs used) and, later, least-privilege suggestions and
 * anomaly baselines. Counts are kept in memory and written to `.palisade/usage.db` every few seconds
 * and on close, so recording costs nothing on the invocation path. On NATS every node writes its own
 * counts to a shared bucket instead (nats-usage-store.ts).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  type CapabilityKind,
  tallyUse,
  type UsageRow,
  type UsageStore,
  type UsageTally,
} from "./usage-rows.ts";

/** How long counts wait in memory before they are written. */
export const USAGE_FLUSH_MS = 2000;

export function openUsageStore(file: string): UsageStore {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS usage (
      fn TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL,
      count INTEGER NOT NULL, last_at INTEGER NOT NULL, last_reason TEXT,
      PRIMARY KEY (fn, kind, target, outcome)
    ) WITHOUT ROWID;`);
  const upsert = db.prepare(
    `INSERT INTO usage (fn, kind, target, outcome, count, last_at, last_reason) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (fn, kind, target, outcome) DO UPDATE SET count = count + excluded.count,
       last_at = excluded.last_at, last_reason = coalesce(excluded.last_reason, last_reason)`,
  );
  const all = db.prepare("SELECT * FROM usage ORDER BY fn, kind, target, outcome");
  let pending: UsageTally = new Map();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0 || closed) return;
    const rows = [...pending.values()];
    pending = new Map();
    db.exec("BEGIN");
    try {
      for (const r of rows) upsert.run(r.fn, r.kind, r.target, r.outcome, r.count, r.lastAt, r.lastReason);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }

  return {
    record(fn, kind, target, outcome, reason) {
      if (closed) return;
      tallyUse(pending, fn, kind, target, outcome, reason);
      if (timer === undefined) {
        timer = setTimeout(flush, USAGE_FLUSH_MS);
        timer.unref();
      }
    },
    async rows() {
      flush();
      return all.all().map((r) => ({
        fn: String(r.fn),
        kind: String(r.kind) as CapabilityKind,
        target: String(r.target),
        outcome: String(r.outcome) as UsageRow["outcome"],
        count: Number(r.count),
        lastAt: Number(r.last_at),
        lastReason: r.last_reason === null ? null : String(r.last_reason),
      }));
    },
    flush: async () => flush(),
    async close() {
      if (closed) return;
      flush();
      closed = true;
      db.close();
    },
  };
}
