import { openAuditDbForReading } from "./audit-db.ts";
import type { AuditOutcome } from "./record-body.ts";

/**
 * One stored record as `audit tail` and `audit export` print it. Anyone can check it without
 * Palisade: `hash` is SHA-256 over ["palisade.audit.record.v1", seq, at, kind, body, prevHash],
 * where body is the canonical JSON (sorted keys, no whitespace) of { actor, subject, outcome, details }.
 */
export interface AuditRecord {
  /** The node that wrote it, on a NATS deployment (each node has a chain of its own). */
  node?: string;
  /** Position in the chain (the node's chain, on NATS). */
  seq: number;
  /** Milliseconds since the epoch. */
  at: number;
  /** `at` as an ISO 8601 time. */
  time: string;
  kind: string;
  actor?: string;
  subject?: string;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface ReadAuditOptions {
  /** Only records written at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only records after this seq. */
  afterSeq?: number;
  /** At most this many, oldest first. */
  limit?: number;
  /** Only the newest this many (of those the other options select), oldest first. */
  last?: number;
  /** Only records of these kinds. */
  kinds?: readonly string[];
}

/** Records of the audit log at `file` in seq order; throws AUDIT_NOT_FOUND if there is no log. */
export function readAudit(file: string, options: ReadAuditOptions = {}): AuditRecord[] {
  const db = openAuditDbForReading(file);
  try {
    const where = `seq > :after AND at >= :since${options.kinds === undefined ? "" : " AND kind IN (SELECT value FROM json_each(:kinds))"}`;
    const columns = "seq, at, kind, body, prev_hash, hash";
    const sql =
      options.last === undefined
        ? `SELECT ${columns} FROM records WHERE ${where} ORDER BY seq LIMIT :limit`
        : `SELECT * FROM (SELECT ${columns} FROM records WHERE ${where} ORDER BY seq DESC LIMIT :last)
           ORDER BY seq LIMIT :limit`;
    const params: Record<string, number | string> = {
      after: options.afterSeq ?? 0,
      since: options.sinceMs ?? Number.MIN_SAFE_INTEGER,
      limit: options.limit ?? -1, // SQLite: a negative limit means none
    };
    if (options.last !== undefined) params.last = options.last;
    if (options.kinds !== undefined) params.kinds = JSON.stringify(options.kinds);
    return db.prepare(sql).all(params).map(toRecord);
  } finally {
    db.close();
  }
}

/** A stored row (seq, at, kind, body, prev_hash, hash, and on NATS node) as `tail` and `export` print it. */
export function toRecord(row: Record<string, unknown>): AuditRecord {
  const at = Number(row.at);
  const date = new Date(at);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(String(row.body));
  } catch {
    // Only a tampered record has a body that is not JSON; show it as it is (verify names it).
    body = { outcome: "error", details: { unreadableBody: String(row.body) } };
  }
  const details = body.details;
  return {
    ...(typeof row.node === "string" ? { node: row.node } : {}),
    seq: Number(row.seq),
    at,
    time: Number.isNaN(date.getTime()) ? String(row.at) : date.toISOString(),
    kind: String(row.kind),
    ...(typeof body.actor === "string" ? { actor: body.actor } : {}),
    ...(typeof body.subject === "string" ? { subject: body.subject } : {}),
    outcome: typeof body.outcome === "string" ? (body.outcome as AuditOutcome) : "info",
    ...(typeof details === "object" && details !== null
      ? { details: details as Record<string, unknown> }
      : {}),
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}
