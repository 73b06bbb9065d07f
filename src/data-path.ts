/**
 * The data path of DESIGN §7, top-down. Ingress (after the gateway's safe parse of the HTTP binding):
 * validate against the type's schema →
 * enrich (id, time, principal, traceparent, hop) → durable append → 202. Emit: grant checked by the
 * capability host → hop limit → validate → enrich → durable append. Delivery: the store routes each
 * appended event to its subscribers; the dispatcher calls `deliver` per target, which runs the sandbox.
 * Authentication and rate limits happen in the gateway before `ingest` is called.
 */
import { createHash } from "node:crypto";
import type { Appended, Delivery, EventStore } from "./bus/index.ts";
import { PalisadeError } from "./errors.ts";
import {
  type CloudEvent,
  createEvent,
  EVENT_HOP_LIMIT,
  type EventDraft,
  type EventSigningKey,
  PLATFORM_PRINCIPAL,
  PLATFORM_SOURCE,
  rootOf,
  signWireForm,
  traceContextOf,
  withTraceContext,
} from "./events/index.ts";
import { sinkOfTarget } from "./manifest/index.ts";
import {
  coldStartAttribute,
  eventSpanAttributes,
  invocationSpanAttributes,
  SpanKind,
  type Tracing,
} from "./observe/index.ts";
import type { Invocation, SandboxPool } from "./runtime/index.ts";
import type { SchemaRegistry } from "./schema/index.ts";
import { type Authorizer, SECURITY_FORBIDDEN } from "./security/index.ts";

/** Who handed events to the data path: the authenticated principal and the default CE source. */
export interface IngressOrigin {
  principal: string;
  source: string;
  /** Pointers name the event's index in the request (`/2/data/n`). */
  batch: boolean;
}

export interface DataPathParts {
  registry: SchemaRegistry;
  /** Longest chain of emits. */
  hopLimit: number;
  authorize: Authorizer;
  /** Where accepted events go (the dispatcher is woken by the store's queue). */
  events: EventStore;
  pools: ReadonlyMap<string, SandboxPool>;
  /** One span per hop; each event carries the traceparent of the span that produced it. */
  tracing: Tracing;
  /** Hears of each new emit once it is stored (lineage counts it against its root's budget). */
  onEmitted?: (fn: string, event: CloudEvent) => void;
  /** The platform's event key: what the platform produces (emits, platform events) is signed with it. */
  eventKey?: EventSigningKey;
  /** Delivers one event to a sink (outbound HTTP); absent: the app has no sinks. */
  toSink?: (
    sink: string,
    event: CloudEvent,
    trace: { traceparent?: string; tracestate?: string },
  ) => Promise<void>;
}

export interface DataPath {
  /** Authorizes and validates every draft, then appends them all in one durable write (all-or-none). */
  ingest(drafts: readonly EventDraft[], origin: IngressOrigin): Promise<Appended[]>;
  emit(inv: Invocation, type: string, data: unknown): Promise<string>;
  deliver(target: string, delivery: Delivery): Promise<void>;
  /** Emits a platform event (palisade.*) with an id that makes it happen once. */
  platformEvent(type: string, data: unknown, id: string): Promise<void>;
  /** Emits the event of one schedule tick; its id is derived from the tick, so it is stored once. */
  tick(schedule: { name: string; emit: string; data: unknown }, at: Date): Promise<void>;
}

export function createDataPath({
  registry,
  hopLimit,
  authorize,
  events: store,
  pools,
  tracing,
  onEmitted,
  eventKey,
  toSink,
}: DataPathParts): DataPath {
  // The platform's signature over what it produced, in the event (CloudEvents verifiability).
  const signed = (event: CloudEvent): CloudEvent =>
    eventKey === undefined ? event : { ...event, dssematerial: signWireForm(event, eventKey) };

  function accept(events: CloudEvent[]): Promise<Appended[]> {
    return store.append(events); // resolves once durable (fsync, or the backend's ack): before the 202
  }

  async function ingest(
    drafts: readonly EventDraft[],
    { principal, source, batch }: IngressOrigin,
  ): Promise<Appended[]> {
    for (const [i, draft] of drafts.entries()) {
      const at = batch ? `/${i}` : "";
      // An undeclared type is the registry's 400 below; a declared one needs a publish grant.
      if (registry.has(draft.type) && !authorize(principal, draft.type))
        throw forbidden(principal, draft.type, at);
      registry.assertValid(draft.type, draft.data, at);
    }
    const events = drafts.map((draft) =>
      createEvent(draft, { principal, source, hop: 0, schemaversion: registry.version(draft.type) }),
    );
    // An ingress span per event, child of the sender's trace context if it sent one; the event
    // carries the span's own (traceparent, tracestate), so everything downstream joins the same trace.
    const spans = events.map((event, i) =>
      tracing.start(
        `ingress ${event.type}`,
        traceContextOf(drafts[i] ?? {}),
        { "palisade.principal": principal, ...eventSpanAttributes(event, "publish") },
        SpanKind.SERVER,
      ),
    );
    try {
      const appended = await accept(events.map((event, i) => withTraceContext(event, spans[i] ?? event)));
      for (const span of spans) span.end();
      return appended;
    } catch (err) {
      for (const span of spans) span.end(err);
      throw err;
    }
  }

  // A sink is a target like a function: a dispatch span per attempt, whose context the request
  // carries on (traceparent), and the receiver's verdict as the attempt's outcome.
  async function deliverToSink(sink: string, delivery: Delivery): Promise<void> {
    if (toSink === undefined) throw new Error(`No sink named "${sink}"`);
    const span = tracing.start(
      `deliver sink:${sink}`,
      traceContextOf(delivery.event),
      {
        "palisade.sink": sink,
        "palisade.event_id": delivery.event.id,
        "palisade.attempt": delivery.attempts + 1,
        ...eventSpanAttributes(delivery.event, "deliver"),
      },
      SpanKind.PRODUCER,
    );
    try {
      await toSink(sink, delivery.event, traceContextOf(withTraceContext(delivery.event, span)));
      span.end();
    } catch (err) {
      span.end(err);
      throw err;
    }
  }

  return {
    ingest,

    async emit(inv, type, data) {
      const hop = inv.event.hop + 1;
      if (hop > hopLimit) {
        throw new PalisadeError(
          EVENT_HOP_LIMIT,
          `Cannot emit "${type}": event chain is deeper than ${hopLimit} hops`,
          // No retry can cure it: the delivery that emitted it is dead-lettered at once.
          { status: 400, deadLetter: "hop-limit" },
        );
      }
      registry.assertValid(type, data);
      const source = `palisade://functions/${inv.fn.name}`;
      // A retried handler re-emits the same ids, so its emits are stored once (dedupe on principal,
      // source and id; only this function writes as `function:<name>`).
      const id = stableId(inv.event, inv.fn.name, inv.emits++);
      const created = createEvent(
        { type, data, id },
        {
          principal: `function:${inv.fn.name}`,
          source,
          hop,
          causationid: inv.event.id,
          root: rootOf(inv.event),
          schemaversion: registry.version(type),
        },
      );
      // The invocation's event carries the invocation span; the emit is its child, and the emitted
      // event carries the emit span on to its own deliveries.
      const span = tracing.start(
        `emit ${type}`,
        traceContextOf(inv.event),
        {
          "palisade.function": inv.fn.name,
          "palisade.event_id": id,
          ...eventSpanAttributes(created, "emit"),
        },
        SpanKind.PRODUCER,
      );
      try {
        const event = signed(withTraceContext(created, span));
        const [stored] = await accept([event]);
        span.end();
        // A retried handler's emits are duplicates of its first attempt's: not more work of the chain.
        if (stored?.duplicate !== true) onEmitted?.(inv.fn.name, event);
      } catch (err) {
        span.end(err);
        throw err;
      }
      return id;
    },

    async platformEvent(type, data, id) {
      registry.assertValid(type, data);
      await accept([
        signed(
          createEvent({ type, data, id }, { principal: PLATFORM_PRINCIPAL, source: PLATFORM_SOURCE, hop: 0 }),
        ),
      ]);
    },

    async tick(schedule, at) {
      const draft = {
        type: schedule.emit,
        data: schedule.data,
        id: `${schedule.name}@${at.toISOString()}`,
        time: at.toISOString(),
      };
      const origin = {
        principal: schedulePrincipal(schedule.name),
        source: `palisade://schedules/${schedule.name}`,
        batch: false,
      };
      await ingest([draft], origin);
    },

    async deliver(target, delivery) {
      const sink = sinkOfTarget(target);
      if (sink !== undefined) return deliverToSink(sink, delivery);
      const pool = pools.get(target);
      if (pool === undefined) throw new Error(`No function named "${target}"`);
      const attrs = {
        "palisade.function": target,
        "palisade.event_id": delivery.event.id,
        "palisade.event_type": delivery.event.type,
        "palisade.attempt": delivery.attempts + 1,
      };
      // dispatch (this attempt) → invoke (the sandbox run); the function sees the invoke span as
      // its event's traceparent, so its capability calls and emits are children of it.
      const dispatch = tracing.start(
        `dispatch ${target}`,
        traceContextOf(delivery.event),
        { ...attrs, ...eventSpanAttributes(delivery.event, "deliver") },
        SpanKind.CONSUMER,
      );
      const invocationId = `${delivery.event.id}:${target}:${delivery.attempts + 1}`;
      const invoke = tracing.start(`invoke ${target}`, dispatch, {
        ...attrs,
        ...invocationSpanAttributes(target, invocationId),
      });
      // A replayed delivery says so: same event (id, data, traceparent), plus its provenance.
      const event = delivery.replay
        ? {
            ...delivery.event,
            replayof: delivery.event.id,
            replayedby: delivery.replay.by,
            replayedat: new Date(delivery.replay.at).toISOString(),
          }
        : delivery.event;
      try {
        await pool.invoke(withTraceContext(event, invoke), delivery.attempts + 1, (coldStart) =>
          invoke.set(coldStartAttribute(coldStart)),
        );
        invoke.end();
        dispatch.end();
      } catch (err) {
        invoke.end(err);
        dispatch.end(err);
        throw err;
      }
    },
  };
}

/** Principal name of a schedule source. */
export function schedulePrincipal(name: string): string {
  return `schedule:${name}`;
}

function forbidden(principal: string, type: string, at: string): PalisadeError {
  return new PalisadeError(
    SECURITY_FORBIDDEN,
    `Principal "${principal}" may not publish "${type}"; add it to principals.${principal}.publish in palisade.yaml`,
    { status: 403, details: [{ pointer: `${at}/type`, message: "is not in the principal's publish list" }] },
  );
}

// The cause is named by its principal too: another principal may send an event with the same source
// and id (dedupe is per principal), and its handler's emits must not take this one's ids.
function stableId(cause: CloudEvent, fn: string, ordinal: number): string {
  const h = createHash("sha256")
    .update(`${cause.principal}\0${cause.source}\0${cause.id}\0${fn}\0${ordinal}`)
    .digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
