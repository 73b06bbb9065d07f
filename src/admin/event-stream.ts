/**
 * `GET /admin/v1/stream`: what happens, live, as Server-Sent Events, for the dashboard. The data
 * path never waits for a client: signals are only listened to while a client is connected, each is
 * turned into a small item and queued, and a timer sends the queue every FLUSH_MS as one `batch`
 * message. Past MAX_ITEMS per flush further items are only counted (`dropped`), so a flood costs the
 * data path one counter increment per signal. A client whose socket is not draining (more than
 * MAX_BUFFER bytes unsent) is disconnected: a slow client is dropped, never waited for. So is one
 * whose session ended (logout, expiry, its key rotated), checked at every flush.
 */
import type { ServerResponse } from "node:http";
import type { Signals } from "../signals/index.ts";

const FLUSH_MS = 250;
const MAX_ITEMS = 500;
const MAX_BUFFER = 512 * 1024;
const KEEPALIVE_MS = 15_000;
/** Event ids an accepted item lists (a batch request can carry a thousand). */
const IDS_PER_ITEM = 20;
/** Most dashboard streams at once, and per admin; one more is refused. */
export const MAX_STREAMS = 32;
export const MAX_STREAMS_PER_ADMIN = 4;

/** One thing that happened, as the dashboard shows it. */
export type StreamItem =
  | {
      kind: "accepted";
      at: number;
      principal: string;
      /** How many events the request carried; `ids` lists the first IDS_PER_ITEM. */
      events: number;
      ids: readonly string[];
      types: readonly string[];
    }
  | {
      kind: "rejected";
      at: number;
      reason: string;
      code: string;
      status: number;
      ip: string;
      principal?: string;
    }
  | {
      kind: "denied";
      at: number;
      fn: string;
      capability: string;
      target: string;
      reason: string;
      eventId: string;
    }
  | {
      kind: "settled";
      at: number;
      fn: string;
      eventId: string;
      type: string;
      attempt: number;
      outcome: string;
      reason?: string;
      durationMs?: number;
    }
  | {
      kind: "finding";
      at: number;
      detector: string;
      severity: string;
      scope: string;
      summary: string;
      response: string;
    }
  | { kind: "held"; at: number; fn: string; hold: string };

/** Whose stream it is, and whether it may still be sent to. */
export interface StreamOwner {
  readonly admin: string;
  /** False once the session it was opened in has ended; absent for a bearer credential. */
  readonly alive?: () => boolean;
}

export interface StreamHub {
  /** Sends this stream's messages to `res` until it closes, falls behind or its session ends; false when full. */
  attach(res: ServerResponse, owner: StreamOwner): boolean;
  clients(): number;
  close(): void;
}

export function createStreamHub(signals: Signals): StreamHub {
  const clients = new Map<ServerResponse, StreamOwner>();
  let queue: StreamItem[] = [];
  let dropped = 0;
  let unsubscribe: (() => void)[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let keepalive: NodeJS.Timeout | undefined;

  // Checked before an item is built: past the cap a signal costs one comparison and one increment.
  const room = (): boolean => {
    if (queue.length < MAX_ITEMS) return true;
    dropped++;
    return false;
  };
  const push = (item: StreamItem): void => {
    queue.push(item);
  };
  const send = (text: string): void => {
    for (const [res, owner] of [...clients]) {
      if (res.destroyed || res.writableLength > MAX_BUFFER || owner.alive?.() === false) {
        drop(res);
        continue;
      }
      res.write(text);
    }
  };
  const flush = (): void => {
    if (queue.length === 0 && dropped === 0) return;
    const message = `event: batch\ndata: ${JSON.stringify({ items: queue, dropped })}\n\n`;
    queue = [];
    dropped = 0;
    send(message);
  };
  const listen = (): void => {
    const now = Date.now;
    unsubscribe = [
      signals.on("ingress.accepted", (s) => {
        if (room())
          push({
            kind: "accepted",
            at: now(),
            principal: s.principal,
            events: s.events,
            ids: (s.ids ?? []).slice(0, IDS_PER_ITEM),
            types: (s.types ?? []).slice(0, IDS_PER_ITEM), // types[i] is the type of ids[i]
          });
      }),
      signals.on(
        "ingress.rejected",
        (s) =>
          room() &&
          push({
            kind: "rejected",
            at: now(),
            reason: s.reason,
            code: s.code,
            status: s.status,
            ip: s.ip,
            ...(s.principal === undefined ? {} : { principal: s.principal }),
          }),
      ),
      signals.on(
        "capability.denied",
        (s) =>
          room() &&
          push({
            kind: "denied",
            at: now(),
            fn: s.fn,
            capability: s.capability,
            target: s.target,
            reason: s.reason,
            eventId: s.eventId,
          }),
      ),
      signals.on(
        "invocation.settled",
        (s) =>
          room() &&
          push({
            kind: "settled",
            at: now(),
            fn: s.fn,
            eventId: s.eventId,
            type: s.type,
            attempt: s.attempt,
            outcome: s.outcome,
            ...(s.reason === undefined ? {} : { reason: s.reason }),
            ...(s.durationMs === undefined ? {} : { durationMs: s.durationMs }),
          }),
      ),
      signals.on(
        "finding",
        ({ finding: f }) =>
          room() &&
          push({
            kind: "finding",
            at: now(),
            detector: f.detector,
            severity: f.severity,
            scope: `${f.scope.kind}:${f.scope.name}`,
            summary: f.summary,
            response: f.response,
          }),
      ),
      signals.on("delivery.held", (s) => room() && push({ kind: "held", at: now(), fn: s.fn, hold: s.hold })),
    ];
    flushTimer = setInterval(flush, FLUSH_MS);
    keepalive = setInterval(() => send(": keepalive\n\n"), KEEPALIVE_MS);
  };
  const stopListening = (): void => {
    for (const off of unsubscribe) off();
    unsubscribe = [];
    clearInterval(flushTimer);
    clearInterval(keepalive);
    queue = [];
    dropped = 0;
  };
  const drop = (res: ServerResponse): void => {
    if (!clients.delete(res)) return;
    res.end();
    if (clients.size === 0) stopListening();
  };

  return {
    attach(res, owner) {
      if (res.destroyed) return true; // closed while it was being authenticated: nothing to send to
      const mine = [...clients.values()].filter((o) => o.admin === owner.admin).length;
      if (clients.size >= MAX_STREAMS || mine >= MAX_STREAMS_PER_ADMIN) return false;
      if (clients.size === 0) listen();
      clients.set(res, owner);
      res.on("close", () => drop(res));
      res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`);
      return true;
    },
    clients: () => clients.size,
    close() {
      for (const res of [...clients.keys()]) drop(res);
    },
  };
}
