import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../../errors.ts";
import type { CloudEvent } from "../../events/index.ts";
import { createGroupCommit, type GroupCommitStats } from "../../group-commit.ts";
import { BUS_CLOSED } from "../errors.ts";
import type {
  Appended,
  DeadLetter,
  DeadLetterReason,
  Delivery,
  DeliveryState,
  EventLog,
  Outcome,
  PastDelivery,
  RecordSealer,
  StoredEvent,
} from "../event-log.ts";
import { MIGRATE_UNIQUE_SQL, SCHEMA_SQL } from "./schema-sql.ts";

/** How long an event's source + id keeps a resend from being stored again. @default 24 h */
export const DEFAULT_DEDUPE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The embedded EventLog, plus the group-commit counters. */
export interface SqliteEventLog extends EventLog {
  readonly stats: GroupCommitStats;
}

/**
 * Opens (or creates) the embedded event log at `file`: SQLite in WAL mode with `synchronous=FULL`,
 * so every commit is fsync'd before its promise resolves (DESIGN §8). One process owns the file.
 */
export function openSqliteEventLog(
  file: string,
  options: { dedupeWindowMs?: number; sealer?: RecordSealer } = {},
): SqliteEventLog {
  const dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  const sealer = options.sealer ?? PLAINTEXT;
  const openError = (text: unknown, seq: unknown, target: unknown): string | null =>
    text === null || text === undefined ? null : sealer.open(String(text), errorRecord(seq, target));
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
  const existing = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
  if (String(existing?.sql ?? "").includes("UNIQUE (source, id)"))
    db.exec(`BEGIN; ${MIGRATE_UNIQUE_SQL} COMMIT;`);
  db.exec(SCHEMA_SQL);
  const columns = db
    .prepare("SELECT name FROM pragma_table_info('deliveries')")
    .all()
    .map((c) => c.name);
  for (const [column, type] of [
    ["dead_reason", "TEXT"],
    ["replayed_by", "TEXT"],
    ["replayed_at", "INTEGER"],
  ]) {
    if (!columns.includes(column)) db.exec(`ALTER TABLE deliveries ADD COLUMN ${column} ${type}`);
  }
  const writer = createGroupCommit(db);
  let closed = false;
  // Events appended by this process, by position: the dispatcher reads them back moments later, and
  // this spares it decrypting and parsing what it just wrote. Bounded (tens of MB at most); a backlog
  // deeper than that is read back from the file.
  const recent = new Map<number, CloudEvent>();
  const sizes = new Map<number, number>();
  let recentBytes = 0;
  const remember = (seq: number, event: CloudEvent, bytes: number) => {
    if (bytes > RECENT_EVENT_MAX_BYTES) return; // large events are read back from the file
    recent.set(seq, event);
    sizes.set(seq, bytes);
    recentBytes += bytes;
    while (recent.size > RECENT_EVENTS || recentBytes > RECENT_BYTES) {
      const oldest = recent.keys().next().value as number;
      recent.delete(oldest);
      recentBytes -= sizes.get(oldest) ?? 0;
      sizes.delete(oldest);
    }
  };
  const stored = (seq: unknown, source: unknown, id: unknown, body: unknown): CloudEvent =>
    recent.get(Number(seq)) ?? parse(sealer.open(String(body), eventRecord(source, id)));
  const settles: (() => void)[] = [];
  let settlesWrite: Promise<void> | undefined;

  const insertEvent = db.prepare(
    "INSERT INTO events (source, id, type, body, accepted_at) VALUES (?, ?, ?, ?, ?)",
  );
  const findRecent = db.prepare(
    "SELECT seq FROM events WHERE source = ? AND id = ? AND accepted_at >= ? ORDER BY seq DESC LIMIT 1",
  );
  const readAfter = db.prepare(
    "SELECT seq, source, id, body, accepted_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const typesAfter = db.prepare("SELECT seq, type FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
  const getCursor = db.prepare("SELECT seq FROM cursors WHERE name = ?");
  const setCursor = db.prepare(
    "INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
  );
  const addDelivery = db.prepare(
    "INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at) VALUES (?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING",
  );
  const due = db.prepare(
    `SELECT d.seq, d.target, d.attempts, d.replayed_by, d.replayed_at, e.source, e.id, e.body FROM deliveries d JOIN events e ON e.seq = d.seq
     WHERE d.target = ? AND d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.seq LIMIT ?`,
  );
  const nextDue = db.prepare("SELECT min(next_at) AS at FROM deliveries WHERE state = 'pending'");
  const settle = db.prepare(
    "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?, last_error = ?, dead_reason = ?, updated_at = ? WHERE seq = ? AND target = ?",
  );
  const deadLetters = db.prepare(
    `SELECT d.seq, e.id, e.type, d.target, d.attempts, d.dead_reason, d.last_error, d.updated_at
     FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.state = 'failed' ORDER BY d.updated_at DESC LIMIT ?`,
  );
  const replayDelivery = db.prepare(
    `INSERT INTO deliveries (seq, target, state, attempts, next_at, last_error, dead_reason, replayed_by, replayed_at, updated_at)
     VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (seq, target) DO UPDATE SET state = excluded.state, attempts = 0, next_at = excluded.next_at,
       last_error = excluded.last_error, dead_reason = excluded.dead_reason, replayed_by = excluded.replayed_by,
       replayed_at = excluded.replayed_at, updated_at = excluded.updated_at`,
  );
  const prunable = `SELECT seq FROM events e WHERE e.accepted_at < ?
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = e.seq AND d.state = 'pending')`;
  const archive = db.prepare(
    `INSERT INTO delivery_history (seq, target, state, attempts, last_error, dead_reason, updated_at, superseded_at)
     SELECT seq, target, state, attempts, last_error, dead_reason, updated_at, ? FROM deliveries
     WHERE seq = ? AND target = ? AND state != 'pending'`,
  );
  const history = db.prepare(
    `SELECT h.seq, h.target, h.state, h.attempts, h.last_error, h.dead_reason, h.updated_at, h.superseded_at
     FROM delivery_history h JOIN events e ON e.seq = h.seq WHERE e.id = ? ORDER BY h.superseded_at, h.rowid`,
  );
  const pruneHistory = db.prepare(`DELETE FROM delivery_history WHERE seq IN (${prunable})`);
  const pruneDeliveries = db.prepare(`DELETE FROM deliveries WHERE seq IN (${prunable})`);
  const pruneEvents = db.prepare(`DELETE FROM events WHERE seq IN (${prunable})`);
  const requeue = db.prepare(
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, dead_reason = NULL, updated_at = ? WHERE seq = ? AND target = ? AND state = 'failed'",
  );
  const states = db.prepare(
    `SELECT d.seq, d.target, d.state, d.attempts, d.last_error FROM deliveries d JOIN events e ON e.seq = d.seq
     WHERE e.id = ? ORDER BY d.target`,
  );

  // Data key version of a sealed column ("pal1.<version>.…"), 0 for plaintext.
  const version = (col: string) =>
    `CASE WHEN ${col} LIKE 'pal1.%' THEN CAST(substr(${col}, 6, instr(substr(${col}, 6), '.') - 1) AS INTEGER) ELSE 0 END`;
  const staleEvents = db.prepare(
    `SELECT seq, source, id, body FROM events WHERE ${version("body")} != ? LIMIT ?`,
  );
  const resealEvent = db.prepare("UPDATE events SET body = ? WHERE seq = ?");
  const staleErrors = db.prepare(
    `SELECT seq, target, last_error FROM deliveries WHERE last_error IS NOT NULL AND ${version("last_error")} != ? LIMIT ?`,
  );
  const resealError = db.prepare("UPDATE deliveries SET last_error = ? WHERE seq = ? AND target = ?");
  const staleHistory = db.prepare(
    `SELECT rowid, seq, target, last_error FROM delivery_history WHERE last_error IS NOT NULL AND ${version("last_error")} != ? LIMIT ?`,
  );
  const resealHistory = db.prepare("UPDATE delivery_history SET last_error = ? WHERE rowid = ?");
  const versionCounts = [
    ["events", "body"],
    ["deliveries", "last_error"],
    ["delivery_history", "last_error"],
  ].map(([table, col]) =>
    db.prepare(
      `SELECT ${version(String(col))} AS v, count(*) AS n FROM ${table} WHERE ${col} IS NOT NULL GROUP BY v`,
    ),
  );

  const countPending = db.prepare("SELECT count(*) AS n FROM deliveries WHERE state = 'pending'");
  const countFailed = db.prepare("SELECT count(*) AS n FROM deliveries WHERE state = 'failed'");

  function open(): void {
    if (closed)
      throw new PalisadeError(BUS_CLOSED, "Cannot use the event log: it is closed", { retryable: true });
  }

  return {
    stats: writer.stats,
    append(events: readonly CloudEvent[]): Promise<Appended[]> {
      open();
      const now = Date.now();
      // One write per request: a batch of events commits all-or-none.
      return writer.run(() =>
        events.map((event) => {
          // Writes are serialized (group commit), so this check-then-insert cannot race.
          const prior = findRecent.get(event.source, event.id, now - dedupeWindowMs);
          if (prior !== undefined) return { id: event.id, seq: Number(prior.seq), duplicate: true };
          const json = JSON.stringify(event);
          const { lastInsertRowid } = insertEvent.run(
            event.source,
            event.id,
            event.type,
            sealer.seal(json, eventRecord(event.source, event.id)),
            now,
          );
          remember(Number(lastInsertRowid), event, json.length);
          return { id: event.id, seq: Number(lastInsertRowid), duplicate: false };
        }),
      );
    },
    async readAfter(seq: number, limit: number): Promise<StoredEvent[]> {
      open();
      return readAfter.all(seq, limit).map((row) => ({
        seq: Number(row.seq),
        event: stored(row.seq, row.source, row.id, row.body),
        acceptedAt: Number(row.accepted_at),
      }));
    },
    setCursor(name: string, value: number): Promise<void> {
      open();
      return writer.run(() => {
        setCursor.run(name, value);
      });
    },
    async typesAfter(seq: number, limit: number) {
      open();
      return typesAfter.all(seq, limit).map((row) => ({ seq: Number(row.seq), type: String(row.type) }));
    },
    async cursor(name: string): Promise<number> {
      open();
      return Number(getCursor.get(name)?.seq ?? 0);
    },
    route(name, upTo, deliveries): Promise<void> {
      open();
      const now = Date.now();
      return writer.run(() => {
        for (const d of deliveries) addDelivery.run(d.seq, d.target, now, now);
        setCursor.run(name, upTo);
      });
    },
    async due(target: string, now: number, limit: number): Promise<Delivery[]> {
      open();
      return due.all(target, now, limit).map((row) => ({
        seq: Number(row.seq),
        target: String(row.target),
        attempts: Number(row.attempts),
        event: stored(row.seq, row.source, row.id, row.body),
        ...(row.replayed_by === null
          ? {}
          : { replay: { by: String(row.replayed_by), at: Number(row.replayed_at) } }),
      }));
    },
    async nextDue(): Promise<number | undefined> {
      open();
      const at = nextDue.get()?.at;
      return at === null || at === undefined ? undefined : Number(at);
    },
    settle(seq: number, target: string, outcome: Outcome): Promise<void> {
      open();
      const now = Date.now();
      const state = outcome.kind === "retry" ? "pending" : outcome.kind;
      const nextAt = outcome.kind === "retry" ? outcome.at : now;
      const error =
        outcome.kind === "delivered" ? null : sealer.seal(outcome.error, errorRecord(seq, target));
      const reason = outcome.kind === "failed" ? outcome.reason : null;
      settles.push(() => settle.run(state, nextAt, error, reason, now, seq, target));
      // Settles that arrive before the next commit share one write (and its one savepoint).
      settlesWrite ??= writer.run(() => {
        settlesWrite = undefined;
        for (const run of settles.splice(0)) run();
      });
      return settlesWrite;
    },
    async deadLetters(limit: number): Promise<DeadLetter[]> {
      open();
      return deadLetters.all(limit).map((row) => ({
        seq: Number(row.seq),
        eventId: String(row.id),
        type: String(row.type),
        target: String(row.target),
        attempts: Number(row.attempts),
        reason: String(row.dead_reason ?? "attempts-exhausted") as DeadLetter["reason"],
        error: openError(row.last_error, row.seq, row.target) ?? "",
        at: Number(row.updated_at),
      }));
    },
    replay(seq, target, replay, refused) {
      open();
      const now = Date.now();
      const state = refused === undefined ? "pending" : "failed";
      const reason = refused === undefined ? null : "replay-refused";
      return writer.run(() => {
        archive.run(now, seq, target);
        const error = refused === undefined ? null : sealer.seal(refused, errorRecord(seq, target));
        replayDelivery.run(seq, target, state, now, error, reason, replay.by, replay.at, now);
      });
    },
    prune(beforeMs: number): Promise<number> {
      open();
      return writer.run(() => {
        pruneHistory.run(beforeMs);
        pruneDeliveries.run(beforeMs);
        return Number(pruneEvents.run(beforeMs).changes);
      });
    },
    requeue(seq: number, target: string): Promise<boolean> {
      open();
      const now = Date.now();
      return writer
        .run(() => {
          archive.run(now, seq, target);
          if (requeue.run(now, now, seq, target).changes === 1) return true;
          // Not a dead letter (pending or delivered): nothing moves, so nothing is archived.
          throw new NotDead();
        })
        .catch((err: unknown) => {
          if (err instanceof NotDead) return false;
          throw err;
        });
    },
    async deliveries(eventId: string): Promise<DeliveryState[]> {
      open();
      return states.all(eventId).map((row) => ({
        target: String(row.target),
        state: row.state as DeliveryState["state"],
        attempts: Number(row.attempts),
        lastError: openError(row.last_error, row.seq, row.target),
      }));
    },
    async history(eventId: string): Promise<PastDelivery[]> {
      open();
      return history.all(eventId).map((row) => ({
        target: String(row.target),
        state: row.state as PastDelivery["state"],
        attempts: Number(row.attempts),
        lastError: openError(row.last_error, row.seq, row.target),
        reason: row.dead_reason === null ? null : (String(row.dead_reason) as DeadLetterReason),
        at: Number(row.updated_at),
        supersededAt: Number(row.superseded_at),
      }));
    },
    reencrypt(limit: number): Promise<number> {
      open();
      return writer.run(() => {
        const active = sealer.activeVersion();
        let n = 0;
        for (const r of staleEvents.all(active, limit)) {
          const rec = eventRecord(r.source, r.id);
          resealEvent.run(sealer.seal(sealer.open(String(r.body), rec), rec), Number(r.seq));
          n += 1;
        }
        for (const r of staleErrors.all(active, limit - n)) {
          const rec = errorRecord(r.seq, r.target);
          resealError.run(
            sealer.seal(sealer.open(String(r.last_error), rec), rec),
            Number(r.seq),
            String(r.target),
          );
          n += 1;
        }
        for (const r of staleHistory.all(active, limit - n)) {
          const rec = errorRecord(r.seq, r.target);
          resealHistory.run(sealer.seal(sealer.open(String(r.last_error), rec), rec), Number(r.rowid));
          n += 1;
        }
        return n;
      });
    },
    async stateCounts() {
      open();
      return {
        pending: Number(countPending.get()?.n ?? 0),
        failed: Number(countFailed.get()?.n ?? 0),
      };
    },
    async sealedVersions(): Promise<Map<number, number>> {
      open();
      const counts = new Map<number, number>();
      for (const stmt of versionCounts)
        for (const r of stmt.all()) counts.set(Number(r.v), (counts.get(Number(r.v)) ?? 0) + Number(r.n));
      return counts;
    },
    async close(): Promise<void> {
      if (closed) return;
      // Let writes already queued commit before the file is closed.
      await writer.run(() => undefined);
      closed = true;
      db.close();
    },
  };
}

/** How many recently appended events are kept in memory for the dispatcher. */
const RECENT_EVENTS = 65536;
/** …and at most this much of them (JSON characters), so large events cannot exhaust memory. */
const RECENT_BYTES = 32 * 1024 * 1024;
const RECENT_EVENT_MAX_BYTES = 16 * 1024;

/** What a sealed record is bound to (the associated data of its ciphertext). */
function eventRecord(source: unknown, id: unknown): string {
  return `event:${String(source)}\0${String(id)}`;
}
function errorRecord(seq: unknown, target: unknown): string {
  return `delivery-error:${String(seq)}\0${String(target)}`;
}

/** No encryption: for tests and tools that read a log without the app's key ring. */
const PLAINTEXT: RecordSealer = {
  seal: (text) => text,
  open: (text) => text,
  versionOf: () => 0,
  activeVersion: () => 0,
};

function parse(body: unknown): CloudEvent {
  return JSON.parse(String(body)) as CloudEvent;
}

/** Thrown inside a requeue write to roll back its archive row when there was no dead letter. */
class NotDead extends Error {}
