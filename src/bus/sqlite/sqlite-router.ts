import type { DatabaseSync } from "node:sqlite";
import { matchesTypePattern } from "../../events/index.ts";
import type { RawStoredEvent, RawStoreOptions, Subscription } from "../store.ts";
import type { DeliveryMac } from "./delivery-mac.ts";

/** The cursor up to which events have been routed (the name earlier versions' dispatcher used). */
const CURSOR = "dispatch";
const CHUNK = 512;

/**
 * Routing inside the log: each appended event gets a pending, authenticated delivery row per
 * subscription whose types match and whose content filter accepts it, in the append's own write (no
 * second commit). Events after the cursor that no append routed (a log from an earlier version,
 * whose dispatcher routed later) are routed on the next append or take.
 */
export interface SqliteRouter {
  /**
   * Routes `fresh` (just inserted, in order) and anything unrouted before them; run inside a write.
   * Returns the targets given work.
   */
  routeAppended(fresh: readonly RawStoredEvent[]): ReadonlySet<string>;
  /** Routes every event after the cursor; run inside a write. */
  routeBacklog(): void;
  /** Whether events may be waiting to be routed (false once a backlog pass found none). */
  readonly behind: boolean;
}

export function createSqliteRouter(
  db: DatabaseSync,
  options: Pick<RawStoreOptions, "subscriptions" | "accepts">,
  mac: DeliveryMac,
): SqliteRouter {
  const getCursor = db.prepare("SELECT seq FROM cursors WHERE name = ?");
  const setCursor = db.prepare(
    "INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
  );
  const after = db.prepare(
    "SELECT seq, origin, source, id, type, body, accepted_at FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
  );
  const last = db.prepare("SELECT max(seq) AS seq FROM events");
  const addDelivery = db.prepare(
    "INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac) VALUES (?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const routes = new Map<string, Subscription[]>();
  const routesFor = (type: string): Subscription[] => {
    let found = routes.get(type);
    if (found === undefined) {
      found = options.subscriptions.filter((s) => s.on.some((p) => matchesTypePattern(p, type)));
      routes.set(type, found);
    }
    return found;
  };
  let behind = true;

  function route(events: readonly RawStoredEvent[], routed: Set<string>): void {
    const now = Date.now();
    for (const e of events)
      for (const s of routesFor(e.type))
        if (options.accepts(s.name, e)) {
          addDelivery.run(e.seq, s.name, now, now, mac.signFor(e, s.name));
          routed.add(s.name);
        }
  }

  // Routes stored events in (from, to], reading them back.
  function routeStored(from: number, to: number, routed: Set<string>): void {
    for (let at = from; at < to; ) {
      const rows = after.all(at, to, CHUNK);
      const batch = rows.map(rawOf);
      route(batch, routed);
      const end = batch.at(-1)?.seq;
      if (end === undefined) break;
      at = end;
    }
  }

  return {
    get behind() {
      return behind;
    },
    routeAppended(fresh) {
      const routed = new Set<string>();
      const first = fresh[0];
      const end = fresh.at(-1);
      if (first === undefined || end === undefined) return routed;
      const cursor = Number(getCursor.get(CURSOR)?.seq ?? 0);
      if (cursor < first.seq - 1) routeStored(cursor, first.seq - 1, routed);
      route(
        fresh.filter((e) => e.seq > cursor),
        routed,
      );
      setCursor.run(CURSOR, Math.max(cursor, end.seq));
      return routed;
    },
    routeBacklog() {
      const cursor = Number(getCursor.get(CURSOR)?.seq ?? 0);
      const to = Number(last.get()?.seq ?? 0);
      if (to > cursor) {
        routeStored(cursor, to, new Set());
        setCursor.run(CURSOR, to);
      }
      behind = false;
    },
  };
}

/** A row of `events` as a backend hands it to the wrapper. */
export function rawOf(row: Record<string, unknown>): RawStoredEvent {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    source: String(row.source),
    principal: row.origin === null || row.origin === undefined ? "" : String(row.origin),
    type: String(row.type),
    body: String(row.body),
    acceptedAt: Number(row.accepted_at),
  };
}
