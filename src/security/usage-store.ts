/**
 * What each function actually used of its grants, and what it was refused: the evidence for
 * `palisade permissions report` (granted vs used) and, later, least-privilege suggestions and
 * anomaly baselines. Counts are kept in memory and written to `.palisade/usage.db` every few seconds
 * and on close, so recording costs nothing on the invocation path.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** What a capability call touched. */
export type CapabilityKind = "emit" | "secret" | "egress" | "kv-read" | "kv-write";

export interface UsageRow {
  fn: string;
  kind: CapabilityKind;
  /** Event type, secret name, `scheme://host:port`, or kv namespace. */
  target: string;
  outcome: "used" | "denied";
  count: number;
  /** Last time seen (ms). */
  lastAt: number;
  /** The most recent refusal message, for denials. */
  lastReason: string | null;
}

export interface UsageStore {
  record(fn: string, kind: CapabilityKind, target: string, outcome: "used" | "denied", reason?: string): void;
  /** Every row, by function, kind and target. */
  rows(): UsageRow[];
  flush(): void;
  close(): void;
}

const FLUSH_MS = 2000;

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
  let pending = new Map<string, UsageRow>();
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
      const key = `${fn}\0${kind}\0${target}\0${outcome}`;
      const row = pending.get(key);
      if (row === undefined) {
        pending.set(key, {
          fn,
          kind,
          target,
          outcome,
          count: 1,
          lastAt: Date.now(),
          lastReason: reason ?? null,
        });
      } else {
        row.count += 1;
        row.lastAt = Date.now();
        if (reason !== undefined) row.lastReason = reason;
      }
      if (timer === undefined) {
        timer = setTimeout(flush, FLUSH_MS);
        timer.unref();
      }
    },
    rows() {
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
    flush,
    close() {
      if (closed) return;
      flush();
      closed = true;
      db.close();
    },
  };
}
