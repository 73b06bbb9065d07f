/**
 * `GET /admin/v1/stream`: what happens, live, as Server-Sent Events, for the dashboard. The data
 * path never waits for a client: signals are only listened to while a client is connected, each is
 * turned into a small item and queued, and a timer sends the queue every FLUSH_MS as one `batch`
 * message. Past MAX_ITEMS per flush further items are only counted (`dropped`), so a flood costs the
 * data path one counter increment per signal. A client whose socket is not draining (more than
 * MAX_BUFFER bytes unsent) is disconnected: a slow client is dropped, never waited for. So is one
 * whose session ended (logout, expiry, its key rotated), checked at every flush.
 *
 * A client may narrow what it is sent, in the request's query (`palisade tail` does):
 * `?tail=1` adds function log lines and events functions emitted (TailItem; the dashboard does not
 * ask for them), `type=<type or prefix.*>` keeps items about events of that type, `function=<name>`
 * items about that function.
 */
import type { ServerResponse } from "node:http";
import { matchesTypePattern } from "../events/index.ts";
import type { Signals } from "../signals/index.ts";
import { ADMIN_BAD_REQUEST } from "./errors.ts";

const FLUSH_MS = 250;
const MAX_ITEMS = 500;
const MAX_BUFFER = 512 * 1024;
const KEEPALIVE_MS = 15_000;
/** Event ids an accepted item lists (a batch request can carry a thousand). */
const IDS_PER_ITEM = 20;
/** Function log lines one flush sends at most (the rest are counted in `dropped`), and their length. */
const MAX_LOG_ITEMS = 200;
const MAX_LOG_TEXT = 2048;
/** Longest error message a settled item carries (its stack stays with the delivery). */
const MAX_ERROR_TEXT = 500;
/** Longest `type` or `function` a stream may filter on. */
const MAX_FILTER = 256;
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
      /** For `retry` and `failed`: the failure's message (its first line, cut), without the stack. */
      error?: string;
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

/** What a `?tail=1` stream is sent besides StreamItem: function log lines and emitted events. */
export type TailItem =
  | StreamItem
  | {
      kind: "log";
      at: number;
      fn: string;
      level: string;
      message: string;
      eventId?: string;
      type?: string;
    }
  | { kind: "emitted"; at: number; fn: string; id: string; type: string };

/** What one stream is sent: TailItem or only StreamItem, narrowed to a type and a function. */
export interface StreamView {
  readonly tail: boolean;
  /** An event type, or `prefix.*`. */
  readonly type?: string;
  readonly fn?: string;
}

/** Whose stream it is, and whether it may still be sent to. */
export interface StreamOwner {
  readonly admin: string;
  /** False once the session it was opened in has ended; absent for a bearer credential. */
  readonly alive?: () => boolean;
}

export interface StreamHub {
  /**
   * Sends this stream's messages to `res` until it closes, falls behind or its session ends; false
   * when full. `view` defaults to what the request's query asks for (see the file's header).
   */
  attach(res: ServerResponse, owner: StreamOwner, view?: StreamView | string): boolean;
  clients(): number;
  close(): void;
}

export function createStreamHub(signals: Signals): StreamHub {
  const clients = new Map<ServerResponse, { owner: StreamOwner; view: StreamView }>();
  let queue: TailItem[] = [];
  let logs = 0;
  let dropped = 0;
  let unsubscribe: (() => void)[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let keepalive: NodeJS.Timeout | undefined;
  let tailing = false;

  // Checked before an item is built: past the cap a signal costs one comparison and one increment.
  const room = (log = false): boolean => {
    if (queue.length < MAX_ITEMS && (!log || logs < MAX_LOG_ITEMS)) return true;
    dropped++;
    return false;
  };
  const push = (item: TailItem): void => {
    if (item.kind === "log") logs++;
    queue.push(item);
  };
  const send = (text: (view: StreamView) => string | undefined): void => {
    for (const [res, { owner, view }] of [...clients]) {
      if (res.destroyed || res.writableLength > MAX_BUFFER || owner.alive?.() === false) {
        drop(res);
        continue;
      }
      const message = text(view);
      if (message !== undefined) res.write(message);
    }
  };
  const flush = (): void => {
    if (queue.length === 0 && dropped === 0) return;
    const [items, lost] = [queue, dropped];
    queue = [];
    logs = 0;
    dropped = 0;
    // Streams that ask for the same view share one serialization.
    const made = new Map<string, string | undefined>();
    send((view) => {
      const key = JSON.stringify(view);
      if (!made.has(key)) {
        const shown = visibleItems(items, view);
        made.set(
          key,
          shown.length === 0 && lost === 0
            ? undefined
            : `event: batch\ndata: ${JSON.stringify({ items: shown, dropped: lost })}\n\n`,
        );
      }
      return made.get(key);
    });
  };
  const listen = (): void => {
    unsubscribe = listenTo(signals, room, push, () => tailing);
    flushTimer = setInterval(flush, FLUSH_MS);
    keepalive = setInterval(() => send(() => ": keepalive\n\n"), KEEPALIVE_MS);
  };
  const stopListening = (): void => {
    for (const off of unsubscribe) off();
    unsubscribe = [];
    clearInterval(flushTimer);
    clearInterval(keepalive);
    queue = [];
    logs = 0;
    dropped = 0;
  };
  const drop = (res: ServerResponse): void => {
    if (!clients.delete(res)) return;
    res.end();
    tailing = [...clients.values()].some((c) => c.view.tail);
    if (clients.size === 0) stopListening();
  };

  return {
    attach(res, owner, asked = streamViewOf(res.req?.url)) {
      if (res.destroyed) return true; // closed while it was being authenticated: nothing to send to
      if (typeof asked === "string") {
        res.end(`event: error\ndata: ${JSON.stringify({ code: ADMIN_BAD_REQUEST, message: asked })}\n\n`);
        return true;
      }
      const mine = [...clients.values()].filter((c) => c.owner.admin === owner.admin).length;
      if (clients.size >= MAX_STREAMS || mine >= MAX_STREAMS_PER_ADMIN) return false;
      if (clients.size === 0) listen();
      clients.set(res, { owner, view: asked });
      tailing ||= asked.tail;
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

/**
 * The view a stream's request asks for in its query (`tail=1`, `type`, `function`), or why it cannot
 * be given. No query: the dashboard's view, everything but TailItem's extras.
 */
export function streamViewOf(url: string | undefined): StreamView | string {
  const query = new URL(url ?? "/", "http://stream").searchParams;
  const tail = query.get("tail");
  if (tail !== null && tail !== "1" && tail !== "0") return `tail must be 1 or 0, not "${tail.slice(0, 20)}"`;
  const view: { tail: boolean; type?: string; fn?: string } = { tail: tail === "1" };
  for (const [param, field] of [
    ["type", "type"],
    ["function", "fn"],
  ] as const) {
    const value = query.get(param);
    if (value === null) continue;
    if (value === "" || value.length > MAX_FILTER)
      return `${param} must be 1 to ${MAX_FILTER} characters, not ${value.length}`;
    view[field] = value;
  }
  return view;
}

/** The items `view` is sent: only StreamItem without `tail`; only those about its type and function. */
function visibleItems(items: readonly TailItem[], view: StreamView): TailItem[] {
  const out: TailItem[] = [];
  const typeOk = (type: string | undefined) =>
    view.type === undefined || (type !== undefined && matchesTypePattern(view.type, type));
  const fnOk = (fn: string | undefined) => view.fn === undefined || fn === view.fn;
  for (const item of items) {
    if (!view.tail && (item.kind === "log" || item.kind === "emitted")) continue;
    if (item.kind === "accepted") {
      if (view.fn !== undefined) continue;
      if (view.type === undefined) {
        out.push(item);
        continue;
      }
      const keep = item.ids.flatMap((_id, i) => (typeOk(item.types[i]) ? [i] : []));
      if (keep.length > 0)
        out.push({
          ...item,
          events: keep.length,
          ids: keep.map((i) => item.ids[i] as string),
          types: keep.map((i) => item.types[i] as string),
        });
      continue;
    }
    const type = "type" in item ? item.type : undefined;
    const fn = "fn" in item ? item.fn : undefined;
    if (typeOk(type) && fnOk(fn) && (view.fn === undefined || fn !== undefined)) out.push(item);
  }
  return out;
}

/** Subscribes to the signals a stream shows; the tail's extras only while `tailing()` says so. */
function listenTo(
  signals: Signals,
  room: (log?: boolean) => boolean,
  push: (item: TailItem) => void,
  tailing: () => boolean,
): (() => void)[] {
  const now = Date.now;
  return [
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
          ...(s.error === undefined ? {} : { error: firstLine(s.error, MAX_ERROR_TEXT) }),
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
    signals.on(
      "function.log",
      (s) =>
        tailing() &&
        room(true) &&
        push({
          kind: "log",
          at: now(),
          fn: s.fn,
          level: s.level,
          message: s.message.length > MAX_LOG_TEXT ? `${s.message.slice(0, MAX_LOG_TEXT)}…` : s.message,
          ...(s.eventId === undefined ? {} : { eventId: s.eventId }),
          ...(s.type === undefined ? {} : { type: s.type }),
        }),
    ),
    signals.on(
      "event.emitted",
      (s) =>
        tailing() &&
        room() &&
        push({ kind: "emitted", at: now(), fn: s.fn, id: s.event.id, type: s.event.type }),
    ),
  ];
}

function firstLine(text: string, max: number): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
