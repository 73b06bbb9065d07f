import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../../errors.ts";
import { createGroupCommit, type GroupCommitStats } from "../../group-commit.ts";
import { BUS_CLOSED } from "../errors.ts";
import type { Appended, DeadLetter, DeadLetterReason, DeliveryState, PastDelivery } from "../event-log.ts";
import type { RawDelivery, RawStore, RawStoredEvent, RawStoreOptions, Wake } from "../store.ts";
import { deliveryAuthMarker } from "./delivery-auth-marker.ts";
import { createDeliveryMac } from "./delivery-mac.ts";
import { migrateLog } from "./migrate-log.ts";
import { migrateOrigin } from "./migrate-origin.ts";
import { createResealer } from "./resealer.ts";
import { SQLITE_PRAGMAS } from "./schema-sql.ts";
import { createSqliteQueries } from "./sqlite-queries.ts";
import { createSqliteRouter, rawOf } from "./sqlite-router.ts";
import { createSqliteState } from "./sqlite-state.ts";

/** How long an event's origin + source + id keeps a resend from being stored again. @default 24 h */
export const DEFAULT_DEDUPE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The embedded backend, plus what only SQLite has: group-commit counters, rows signed on open. */
export interface SqliteRawStore extends RawStore {
  readonly stats: GroupCommitStats;
  /** Delivery rows signed when this log was opened (ones from before rows were authenticated). */
  readonly rowsSigned: number;
}

/** SQLite-only options. */
export interface SqliteRawStoreOptions extends RawStoreOptions {
  /** Opens a body sealed before the storage seam (to migrate logs from before origin-scoped dedupe). */
  readonly openLegacy?: (body: string, source: string, id: string) => string;
}

/**
 * Opens (or creates) the embedded backend at `file`: SQLite in WAL mode with `synchronous=FULL`, so
 * every commit is fsync'd before its promise resolves (DESIGN §8), concurrent writes sharing a commit.
 * Appended events are routed in their own write; work taken is claimed in memory until settled (one
 * process owns a log's deliveries).
 */
export function openSqliteRawStore(file: string, options: SqliteRawStoreOptions): SqliteRawStore {
  const { dedupeWindowMs } = options;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec(SQLITE_PRAGMAS);
  let migrated: ReturnType<typeof migrateLog>;
  try {
    migrated = migrateLog(
      db,
      (d) => createDeliveryMac(d, options.mac),
      (d) => migrateOrigin(d, options.openLegacy ?? ((body) => body), Date.now() - dedupeWindowMs),
      deliveryAuthMarker(file, options.mac),
    );
  } catch (err) {
    db.close(); // a refused log leaves no handle on its file
    throw err;
  }
  const mac = migrated.mac;
  const writer = createGroupCommit(db);
  const router = createSqliteRouter(db, options, mac);
  const q = createSqliteQueries(db);
  const resealer = createResealer(db);
  let closed = false;
  const check = (): void => {
    if (closed)
      throw new PalisadeError(BUS_CLOSED, "Cannot use the event store: it is closed", { retryable: true });
  };
  const state = createSqliteState(db, writer, check);
  const claims = new Map<string, Set<number>>();
  const claimsOf = (target: string): Set<number> => {
    const found = claims.get(target) ?? new Set<number>();
    claims.set(target, found);
    return found;
  };
  const watchers = new Set<Wake>();
  // Only the targets given work are woken: a dispatcher then asks the store about those alone,
  // not about every function of the app for every event.
  const wake = (targets?: readonly string[]) => {
    for (const w of watchers) w(targets);
  };
  const settles: (() => void)[] = [];
  let settlesWrite: Promise<void> | undefined;
  const openErrors = (text: unknown): string | null => (text === null ? null : String(text));

  function delivery(row: Record<string, unknown>): RawDelivery {
    const record = rawOf(row);
    const base = {
      seq: record.seq,
      target: String(row.target),
      attempts: Number(row.attempts),
      record,
      ...(row.replayed_by === null
        ? {}
        : { replay: { by: String(row.replayed_by), at: Number(row.replayed_at) } }),
    };
    // A row the platform did not write (planted, or pointed at another event or target).
    if (mac.verify(row.mac, record, base.target)) return base;
    const error = `Cannot deliver event "${record.id}" to "${base.target}": its delivery row was not written by this platform (authentication code missing or wrong)`;
    return { ...base, refused: { reason: "unauthenticated", error } };
  }

  return {
    stats: writer.stats,
    rowsSigned: migrated.signed,
    routesByContent: true,
    // One process owns the log's deliveries: what becomes due wakes it, or its poll finds it.
    shortTakeHolds: true,
    durability: {
      backend: "sqlite",
      summary: "fsync before every acknowledgement (SQLite WAL, synchronous=FULL, group commit)",
      safe: true,
    },
    state,
    append(events) {
      check();
      const now = Date.now();
      // One write per call: a batch of events commits all-or-none, routed in the same write.
      return writer
        .run(() => {
          const fresh: RawStoredEvent[] = [];
          const appended = events.map((e): Appended => {
            // Writes are serialized, so this check-then-insert cannot race. Dedupe is scoped to the
            // principal (set by the platform), so no sender can occupy another's ids.
            const prior = q.findRecent.get(e.principal, e.source, e.id, now - dedupeWindowMs);
            if (prior !== undefined) return { id: e.id, seq: Number(prior.seq), duplicate: true };
            const seq = Number(
              q.insertEvent.run(e.principal, e.source, e.id, e.type, e.body, now).lastInsertRowid,
            );
            fresh.push({ ...e, seq, acceptedAt: now });
            return { id: e.id, seq, duplicate: false };
          });
          return { appended, routed: router.routeAppended(fresh) };
        })
        .then(({ appended, routed }) => {
          if (routed.size > 0) wake([...routed]);
          return appended;
        });
    },
    async read(after, limit) {
      check();
      return q.readAfter.all(after, limit).map(rawOf);
    },
    async find(eventId) {
      check();
      return q.findById.all(eventId).map(rawOf);
    },
    async latest() {
      check();
      return Number((q.latestSeq.get() as { seq: number | bigint }).seq);
    },
    async earliest() {
      check();
      return Number((q.earliestSeq.get() as { seq: number | bigint }).seq);
    },
    async take(target, limit) {
      check();
      if (router.behind) {
        await writer.run(() => router.routeBacklog());
        wake(); // the backlog may hold work for any target
      }
      const claimed = claimsOf(target);
      const out: RawDelivery[] = [];
      for (const row of q.due.all(target, Date.now(), limit + claimed.size)) {
        const seq = Number(row.seq);
        if (claimed.has(seq)) continue;
        claimed.add(seq);
        out.push(delivery(row));
        if (out.length >= limit) break;
      }
      return out;
    },
    settle(d, outcome) {
      check();
      const { seq, target } = d;
      const now = Date.now();
      const run =
        outcome.kind === "skipped"
          ? () => q.unroute.run(seq, target)
          : () => {
              const state = outcome.kind === "retry" ? "pending" : outcome.kind;
              const nextAt = outcome.kind === "retry" ? outcome.at : now;
              const error = outcome.kind === "delivered" ? null : outcome.error;
              const reason = outcome.kind === "failed" ? outcome.reason : null;
              q.settle.run(state, nextAt, error, reason, now, seq, target);
            };
      settles.push(run);
      // Settles that arrive before the next commit share one write (and its one savepoint).
      settlesWrite ??= writer.run(() => {
        settlesWrite = undefined;
        for (const s of settles.splice(0)) s();
      });
      const written = settlesWrite;
      // Claimed until recorded: a retry is not taken again before its time is in the file.
      return written.finally(() => claims.get(target)?.delete(seq));
    },
    giveBack(d) {
      claims.get(d.target)?.delete(d.seq);
    },
    async nextDue() {
      check();
      const at = q.nextDue.get()?.at;
      return at === null || at === undefined ? undefined : Number(at);
    },
    watch(w) {
      watchers.add(w);
      return () => watchers.delete(w);
    },
    async deadLetters(limit): Promise<DeadLetter[]> {
      check();
      return q.deadLetters.all(limit).map((row) => ({
        seq: Number(row.seq),
        eventId: String(row.id),
        type: String(row.type),
        target: String(row.target),
        attempts: Number(row.attempts),
        reason: String(row.dead_reason ?? "attempts-exhausted") as DeadLetterReason,
        error: String(row.last_error ?? ""),
        at: Number(row.updated_at),
      }));
    },
    replay(seq, target, replay, refused) {
      check();
      const now = Date.now();
      const state = refused === undefined ? "pending" : "failed";
      const reason = refused === undefined ? null : "replay-refused";
      return writer
        .run(() => {
          q.archive.run(now, seq, target);
          // An operator's replay (checked against the current app by the command) signs the row anew.
          const signed = mac.sign(seq, target);
          q.replay.run(seq, target, state, now, refused ?? null, reason, replay.by, replay.at, now, signed);
        })
        .then(() => wake([target]));
    },
    requeue(seq, target) {
      check();
      const now = Date.now();
      return writer
        .run(() => {
          q.archive.run(now, seq, target);
          if (q.requeue.run(now, now, seq, target).changes === 1) return true;
          // Not a dead letter (pending or delivered): nothing moves, so nothing is archived.
          throw new NotDead();
        })
        .then(
          (moved) => {
            wake([target]);
            return moved;
          },
          (err: unknown) => {
            if (err instanceof NotDead) return false;
            throw err;
          },
        );
    },
    async deliveries(eventId): Promise<(DeliveryState & { seq: number })[]> {
      check();
      return q.states.all(eventId).map((row) => ({
        seq: Number(row.seq),
        target: String(row.target),
        state: row.state as DeliveryState["state"],
        attempts: Number(row.attempts),
        lastError: openErrors(row.last_error),
      }));
    },
    async history(eventId): Promise<(PastDelivery & { seq: number })[]> {
      check();
      return q.history.all(eventId).map((row) => ({
        seq: Number(row.seq),
        target: String(row.target),
        state: row.state as PastDelivery["state"],
        attempts: Number(row.attempts),
        lastError: openErrors(row.last_error),
        reason: row.dead_reason === null ? null : (String(row.dead_reason) as DeadLetterReason),
        at: Number(row.updated_at),
        supersededAt: Number(row.superseded_at),
      }));
    },
    prune(beforeMs) {
      check();
      return writer.run(() => {
        q.pruneHistory.run(beforeMs);
        q.pruneDeliveries.run(beforeMs);
        return Number(q.pruneEvents.run(beforeMs).changes);
      });
    },
    reseal(limit, isStale, reseal) {
      check();
      return writer.run(() => resealer.reseal(limit, isStale, reseal));
    },
    async countVersions(versionOf) {
      check();
      return resealer.versions(versionOf);
    },
    async stateCounts() {
      check();
      return {
        pending: Number(q.countPending.get()?.n ?? 0),
        failed: Number(q.countFailed.get()?.n ?? 0),
      };
    },
    async close() {
      if (closed) return;
      // Let writes already queued commit before the file is closed.
      await writer.run(() => undefined);
      closed = true;
      watchers.clear();
      db.close();
    },
  };
}

/** Thrown inside a requeue write to roll back its archive row when there was no dead letter. */
class NotDead extends Error {}
