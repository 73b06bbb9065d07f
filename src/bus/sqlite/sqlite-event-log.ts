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
  RefusedDelivery,
  StoredEvent,
} from "../event-log.ts";
import { deliveryAuthMarker } from "./delivery-auth-marker.ts";
import { createDeliveryMac } from "./delivery-mac.ts";
import { migrateLog } from "./migrate-log.ts";
import { migrateOrigin } from "./migrate-origin.ts";
import { createRecentEvents } from "./recent-events.ts";
import { createResealer, errorRecord, eventRecord } from "./resealer.ts";

/** How long an event's origin + source + id keeps a resend from being stored again. @default 24 h */
export const DEFAULT_DEDUPE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The embedded EventLog, plus the group-commit counters. */
export interface SqliteEventLog extends EventLog {
  readonly stats: GroupCommitStats;
  /** Delivery rows signed when this log was opened (one from before rows were authenticated). */
  readonly rowsSigned: number;
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
  const mac = sealer.mac?.bind(sealer);
  let migrated: ReturnType<typeof migrateLog>;
  try {
    migrated = migrateLog(
      db,
      (d) => createDeliveryMac(d, mac),
      (d) => migrateOrigin(d, sealer, eventRecord, Date.now() - dedupeWindowMs),
      deliveryAuthMarker(file, mac),
    );
  } catch (err) {
    db.close(); // a refused log leaves no handle on its file
    throw err;
  }
  const deliveryMac = migrated.mac;
  const writer = createGroupCommit(db);
  let closed = false;
  const recent = createRecentEvents();
  const stored = (seq: unknown, source: unknown, id: unknown, body: unknown): CloudEvent =>
    recent.get(Number(seq)) ?? parse(sealer.open(String(body), eventRecord(source, id)));
  // A stored record that does not open (flipped bytes, a moved ciphertext, a missing key) or is not
  // an event envelope, as a value rather than a throw, so it cannot stop the records after it.
  const tryStored = (row: Record<string, unknown>) => {
    try {
      const event = stored(row.seq, row.source, row.id, row.body);
      if (!isEnvelope(event)) throw new Error("it is not a CloudEvents envelope");
      if (event.id !== String(row.id) || event.source !== String(row.source))
        throw new Error("its body belongs to another event");
      // Two principals' events may share source and id; the body must be the one its origin sent.
      if (row.origin !== null && row.origin !== undefined && event.principal !== String(row.origin))
        throw new Error("its body belongs to another principal's event");
      return { ok: true, event } as const;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        error: `Cannot read event "${String(row.id)}" (seq ${String(row.seq)}): ${why}`,
      } as const;
    }
  };
  const settles: (() => void)[] = [];
  let settlesWrite: Promise<void> | undefined;

  const insertEvent = db.prepare(
    "INSERT INTO events (origin, source, id, type, body, accepted_at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const findRecent = db.prepare(
    "SELECT seq FROM events WHERE origin = ? AND source = ? AND id = ? AND accepted_at >= ? ORDER BY seq DESC LIMIT 1",
  );
  const readAfter = db.prepare(
    "SELECT seq, origin, source, id, type, body, accepted_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const typesAfter = db.prepare("SELECT seq, type FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
  const getCursor = db.prepare("SELECT seq FROM cursors WHERE name = ?");
  const setCursor = db.prepare(
    "INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
  );
  const addDelivery = db.prepare(
    "INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac) VALUES (?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const due = db.prepare(
    `SELECT d.seq, d.target, d.attempts, d.replayed_by, d.replayed_at, d.mac, e.origin, e.source, e.id, e.type, e.body FROM deliveries d JOIN events e ON e.seq = d.seq
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
    `INSERT INTO deliveries (seq, target, state, attempts, next_at, last_error, dead_reason, replayed_by, replayed_at, updated_at, mac)
     VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (seq, target) DO UPDATE SET state = excluded.state, attempts = 0, next_at = excluded.next_at,
       last_error = excluded.last_error, dead_reason = excluded.dead_reason, replayed_by = excluded.replayed_by,
       replayed_at = excluded.replayed_at, updated_at = excluded.updated_at, mac = excluded.mac`,
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

  const resealer = createResealer(db, sealer);

  const countPending = db.prepare("SELECT count(*) AS n FROM deliveries WHERE state = 'pending'");
  const countFailed = db.prepare("SELECT count(*) AS n FROM deliveries WHERE state = 'failed'");

  function open(): void {
    if (closed)
      throw new PalisadeError(BUS_CLOSED, "Cannot use the event log: it is closed", { retryable: true });
  }

  return {
    stats: writer.stats,
    rowsSigned: migrated.signed,
    append(events: readonly CloudEvent[]): Promise<Appended[]> {
      open();
      const now = Date.now();
      const inserted: [seq: number, event: CloudEvent, bytes: number][] = [];
      // One write per request: a batch of events commits all-or-none.
      const write = writer.run(() =>
        events.map((event) => {
          // Writes are serialized (group commit), so this check-then-insert cannot race. Dedupe is
          // scoped to the principal (set by the platform), so no sender can occupy another's ids.
          const prior = findRecent.get(event.principal, event.source, event.id, now - dedupeWindowMs);
          if (prior !== undefined) return { id: event.id, seq: Number(prior.seq), duplicate: true };
          const json = JSON.stringify(event);
          const { lastInsertRowid } = insertEvent.run(
            event.principal,
            event.source,
            event.id,
            event.type,
            sealer.seal(json, eventRecord(event.source, event.id)),
            now,
          );
          inserted.push([Number(lastInsertRowid), event, json.length]);
          return { id: event.id, seq: Number(lastInsertRowid), duplicate: false };
        }),
      );
      // Cached only once committed: a rolled-back insert frees its seq for the next event, and a
      // cached copy of it would then be served as that event.
      return write.then((appended) => {
        for (const [seq, event, bytes] of inserted) recent.remember(seq, event, bytes);
        return appended;
      });
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
    async typesAfter(seq: number, limit: number, payloads = false) {
      open();
      if (!payloads)
        return typesAfter.all(seq, limit).map((row) => ({ seq: Number(row.seq), type: String(row.type) }));
      return readAfter.all(seq, limit).map((row) => {
        const event = tryStored(row);
        return { seq: Number(row.seq), type: String(row.type), ...(event.ok ? { event: event.event } : {}) };
      });
    },
    async cursor(name: string): Promise<number> {
      open();
      return Number(getCursor.get(name)?.seq ?? 0);
    },
    route(name, upTo, deliveries): Promise<void> {
      open();
      const now = Date.now();
      return writer.run(() => {
        for (const d of deliveries)
          addDelivery.run(d.seq, d.target, now, now, deliveryMac.sign(d.seq, d.target));
        setCursor.run(name, upTo);
      });
    },
    async due(target: string, now: number, limit: number): Promise<(Delivery | RefusedDelivery)[]> {
      open();
      return due.all(target, now, limit).map((row): Delivery | RefusedDelivery => {
        const ref = { seq: Number(row.seq), target: String(row.target), attempts: Number(row.attempts) };
        const event = tryStored(row);
        const refuse = (reason: DeadLetterReason, error: string): RefusedDelivery => ({
          ...ref,
          eventId: String(row.id),
          type: String(row.type),
          refused: { reason, error },
        });
        // One record that does not open is refused alone; the deliveries after it still flow.
        if (!event.ok) return refuse("corrupt", event.error);
        // A row the platform did not write (planted, or pointed at another event or target).
        if (!deliveryMac.verify(row.mac, { ...event.event, seq: ref.seq }, ref.target))
          return refuse(
            "unauthenticated",
            `Cannot deliver event "${event.event.id}" to "${ref.target}": its delivery row was not written by this platform (authentication code missing or wrong)`,
          );
        return {
          ...ref,
          event: event.event,
          ...(row.replayed_by === null
            ? {}
            : { replay: { by: String(row.replayed_by), at: Number(row.replayed_at) } }),
        };
      });
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
        // An operator's replay (checked against the current app by the command) signs the row anew.
        const mac = deliveryMac.sign(seq, target);
        replayDelivery.run(seq, target, state, now, error, reason, replay.by, replay.at, now, mac);
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
      return writer.run(() => resealer.reencrypt(limit));
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
      return resealer.versions();
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

function isEnvelope(v: unknown): v is CloudEvent {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return typeof e.id === "string" && typeof e.type === "string" && typeof e.source === "string";
}

/** Thrown inside a requeue write to roll back its archive row when there was no dead letter. */
class NotDead extends Error {}
