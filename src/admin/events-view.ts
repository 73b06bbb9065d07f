/**
 * Events as an operator browses them: newest first, filtered by type (a name or `prefix.*`),
 * principal and age, a page at a time, each with its delivery state per function; one event with
 * its envelope, deliveries and the history replays started over.
 */
import type { DeliveryState, PastDelivery, Store, StoredEvent } from "../bus/index.ts";
import { type CloudEvent, matchesTypePattern } from "../events/index.ts";

/** What an events page lists: all events, or those matching every filter given. */
export interface EventFilter {
  /** An event type, or `prefix.*`. */
  readonly type?: string;
  readonly principal?: string;
  /** Accepted at or after this time (ms). */
  readonly since?: number;
}

/** One event in a list: its envelope without `data`, and where each delivery stands. */
export interface EventSummary {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly principal: string;
  readonly time: string;
  readonly acceptedAt: number;
  readonly hop: number;
  readonly traceId: string | null;
  readonly rootid?: string;
  readonly deliveries: readonly DeliveryState[];
}

export interface EventsPage {
  readonly events: readonly EventSummary[];
  /**
   * The cursor of the next (older) page: pass it as `before`. Absent when the log holds nothing
   * older. A page can be short (or empty) and still have one: at most SCAN_BUDGET events are looked
   * at per page, so a rare filter does not make one request read the whole log.
   */
  readonly next?: number;
}

/** The default and the largest page. */
export const PAGE_DEFAULT = 50;
export const PAGE_MAX = 200;
/** Events one page request reads at most while filtering. */
const SCAN_BUDGET = 5000;
const CHUNK = 500;

/** A page of events newest first, from just below position `before` (the newest when absent). */
export async function listEvents(
  store: Store,
  filter: EventFilter,
  page: { readonly before?: number; readonly limit?: number } = {},
): Promise<EventsPage> {
  const limit = Math.min(page.limit ?? PAGE_DEFAULT, PAGE_MAX);
  const newest = (await store.events.latest()) + 1;
  // Positions below `top` are left to read, down to the oldest one the log still holds.
  let top = Math.min(page.before ?? newest, newest);
  const floor = Math.max(1, await store.events.earliest());
  const found: StoredEvent[] = [];
  let scanned = 0;
  while (top > floor && found.length < limit && scanned < SCAN_BUDGET) {
    const from = Math.max(floor - 1, top - 1 - CHUNK);
    // A record that does not open is passed over here (the dispatcher dead-letters it as corrupt).
    // (A backend whose log lost its oldest events reads on from the first it holds: cut at `top`.)
    const bound = top;
    const chunk = (await store.events.read(from, top - 1 - from)).filter((s) => s.seq < bound);
    scanned += top - 1 - from;
    for (const s of chunk.reverse()) {
      if (found.length >= limit) {
        top = s.seq + 1;
        break;
      }
      if (filter.since !== undefined && s.acceptedAt < filter.since) {
        top = floor; // older from here on: done
        break;
      }
      if (matches(s.event, filter)) found.push(s);
      top = s.seq;
    }
    if (chunk.length === 0) top = from + 1;
  }
  const events = await Promise.all(found.map((s) => summaryOf(store, s)));
  return { events, ...(top > floor ? { next: top } : {}) };
}

function matches(event: CloudEvent, filter: EventFilter): boolean {
  if (filter.type !== undefined && !matchesTypePattern(filter.type, event.type)) return false;
  return filter.principal === undefined || event.principal === filter.principal;
}

async function summaryOf(store: Store, s: StoredEvent): Promise<EventSummary> {
  const e = s.event;
  return {
    seq: s.seq,
    id: e.id,
    type: e.type,
    source: e.source,
    principal: e.principal,
    time: e.time,
    acceptedAt: s.acceptedAt,
    hop: e.hop,
    traceId: traceIdOf(e.traceparent),
    ...(e.rootid === undefined ? {} : { rootid: e.rootid }),
    // A page lists many events: each failure's message only; the event's detail has its stack.
    deliveries: (await store.queue.deliveries(e.id)).map((d) =>
      d.lastError === null ? d : { ...d, lastError: withoutStack(d.lastError) },
    ),
  };
}

// A function's failure is kept as its message, then its stack one frame a line as Node prints it
// (runtime/failure-stack.ts).
const FRAME_LINE = /^ {4}at /;

/** `error` without the stack frames that follow its message. */
function withoutStack(error: string): string {
  const lines = error.split("\n");
  const first = lines.findIndex((line) => FRAME_LINE.test(line));
  return first === -1 ? error : lines.slice(0, first).join("\n");
}

/** One event id as stored (one copy per principal and source that used it), with its deliveries. */
export interface EventDetail {
  readonly id: string;
  readonly copies: readonly {
    readonly seq: number;
    readonly acceptedAt: number;
    readonly event: CloudEvent;
  }[];
  readonly traceId: string | null;
  /**
   * Where each delivery stands. A function's failure (`lastError`) is its message, then, when the
   * function threw, its stack: one frame a line (`    at helper (functions/lib/card.ts:12:9)`),
   * mapped to the TypeScript source, relative to the app, redacted, at most 20 frames and 4 KiB.
   */
  readonly deliveries: readonly DeliveryState[];
  /** Earlier outcomes that replays started over, oldest first. */
  readonly history: readonly PastDelivery[];
}

/** The event with this id, or undefined when the log holds none (never sent, or pruned). */
export async function getEvent(store: Store, id: string): Promise<EventDetail | undefined> {
  const copies = await store.events.find(id);
  const [first] = copies;
  if (first === undefined) return undefined;
  return {
    id,
    copies: copies.map((c) => ({ seq: c.seq, acceptedAt: c.acceptedAt, event: c.event })),
    traceId: traceIdOf(first.event.traceparent),
    deliveries: await store.queue.deliveries(id),
    history: await store.queue.history(id),
  };
}

/** The trace id of a W3C traceparent (`00-<trace>-<span>-<flags>`), or null when it is not one. */
export function traceIdOf(traceparent: string | undefined): string | null {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent ?? "");
  return m?.[1] ?? null;
}
