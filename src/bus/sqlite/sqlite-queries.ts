import type { DatabaseSync, StatementSync } from "node:sqlite";

const EVENT = "e.seq, e.origin, e.source, e.id, e.type, e.body, e.accepted_at";

/** Events accepted before `?` with no pending delivery: what retention may remove. */
const PRUNABLE = `SELECT seq FROM events e WHERE e.accepted_at < ?
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = e.seq AND d.state = 'pending')`;

/**
 * The statements of the embedded backend (schema in schema-sql.ts). What runs while the platform
 * runs (appends, takes, settles, gauges, retention) searches indexes: none reads the whole history
 * (sqlite-queries.test.ts checks each plan).
 */
export const QUERY_SQL = {
  insertEvent: "INSERT INTO events (origin, source, id, type, body, accepted_at) VALUES (?, ?, ?, ?, ?, ?)",
  findRecent:
    "SELECT seq FROM events WHERE origin = ? AND source = ? AND id = ? AND accepted_at >= ? ORDER BY seq DESC LIMIT 1",
  readAfter: `SELECT ${EVENT} FROM events e WHERE e.seq > ? ORDER BY e.seq LIMIT ?`,
  latestSeq: "SELECT coalesce(max(seq), 0) AS seq FROM events",
  earliestSeq: "SELECT coalesce(min(seq), 0) AS seq FROM events",
  findById: `SELECT ${EVENT} FROM events e WHERE e.id = ? ORDER BY e.seq`,
  due: `SELECT d.target, d.attempts, d.replayed_by, d.replayed_at, d.mac, ${EVENT} FROM deliveries d JOIN events e ON e.seq = d.seq
       WHERE d.target = ? AND d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.seq LIMIT ?`,
  nextDue: "SELECT min(next_at) AS at FROM deliveries WHERE state = 'pending'",
  settle:
    "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?, last_error = ?, dead_reason = ?, updated_at = ? WHERE seq = ? AND target = ?",
  /** A delivery the content filter does not want: as if it had never been routed. */
  unroute: "DELETE FROM deliveries WHERE seq = ? AND target = ? AND state = 'pending'",
  deadLetters: `SELECT d.seq, e.id, e.type, d.target, d.attempts, d.dead_reason, d.last_error, d.updated_at
       FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.state = 'failed' ORDER BY d.updated_at DESC LIMIT ?`,
  replay: `INSERT INTO deliveries (seq, target, state, attempts, next_at, last_error, dead_reason, replayed_by, replayed_at, updated_at, mac)
       VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (seq, target) DO UPDATE SET state = excluded.state, attempts = 0, next_at = excluded.next_at,
         last_error = excluded.last_error, dead_reason = excluded.dead_reason, replayed_by = excluded.replayed_by,
         replayed_at = excluded.replayed_at, updated_at = excluded.updated_at, mac = excluded.mac`,
  archive: `INSERT INTO delivery_history (seq, target, state, attempts, last_error, dead_reason, updated_at, superseded_at)
       SELECT seq, target, state, attempts, last_error, dead_reason, updated_at, ? FROM deliveries
       WHERE seq = ? AND target = ? AND state != 'pending'`,
  history: `SELECT h.seq, h.target, h.state, h.attempts, h.last_error, h.dead_reason, h.updated_at, h.superseded_at
       FROM delivery_history h JOIN events e ON e.seq = h.seq WHERE e.id = ? ORDER BY h.superseded_at, h.rowid`,
  requeue:
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, dead_reason = NULL, updated_at = ? WHERE seq = ? AND target = ? AND state = 'failed'",
  states: `SELECT d.seq, d.target, d.state, d.attempts, d.last_error FROM deliveries d JOIN events e ON e.seq = d.seq
       WHERE e.id = ? ORDER BY d.target`,
  pruneHistory: `DELETE FROM delivery_history WHERE seq IN (${PRUNABLE})`,
  pruneDeliveries: `DELETE FROM deliveries WHERE seq IN (${PRUNABLE})`,
  pruneEvents: `DELETE FROM events WHERE seq IN (${PRUNABLE})`,
  countPending: "SELECT count(*) AS n FROM deliveries WHERE state = 'pending'",
  countFailed: "SELECT count(*) AS n FROM deliveries WHERE state = 'failed'",
} as const;

/** The prepared statements of `QUERY_SQL` on `db`. */
export function createSqliteQueries(db: DatabaseSync): Record<keyof typeof QUERY_SQL, StatementSync> {
  const entries = Object.entries(QUERY_SQL).map(([name, sql]) => [name, db.prepare(sql)]);
  return Object.fromEntries(entries) as Record<keyof typeof QUERY_SQL, StatementSync>;
}
