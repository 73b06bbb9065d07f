import { randomUUID } from "node:crypto";
import { type CloudEvent, JSON_MEDIA_TYPE } from "./cloud-event.ts";
import { nextTraceparent } from "./trace-context.ts";

/** What a producer controls; everything else is set by the platform. */
export interface EventDraft {
  type: string;
  data: unknown;
  id?: string;
  source?: string;
  subject?: string;
  time?: string;
  traceparent?: string;
  datacontenttype?: string;
  dataschema?: string;
  extensions?: Record<string, string | number | boolean>;
  /** Set by the gateway only: the producer key id that verified this event's signature. */
  verified?: string;
}

/** Who produced the event and how deep in a chain it is. */
export interface EventOrigin {
  principal: string;
  source: string;
  hop: number;
  causationid?: string;
  /** The chain's root event (id and principal); absent: this event is its own root. */
  root?: { id: string; principal: string };
  schemaversion?: number;
}

/** Enriches a draft into a full envelope: id, time, principal, traceparent, hop (DESIGN §7). */
export function createEvent(draft: EventDraft, origin: EventOrigin): CloudEvent {
  const event: CloudEvent = {
    specversion: "1.0",
    id: draft.id ?? randomUUID(),
    source: draft.source ?? origin.source,
    type: draft.type,
    time: draft.time ?? new Date().toISOString(),
    datacontenttype: draft.datacontenttype ?? JSON_MEDIA_TYPE,
    data: draft.data,
    traceparent: nextTraceparent(draft.traceparent),
    principal: origin.principal,
    hop: origin.hop,
  };
  if (draft.subject !== undefined) event.subject = draft.subject;
  if (draft.dataschema !== undefined) event.dataschema = draft.dataschema;
  if (draft.extensions !== undefined) event.extensions = draft.extensions;
  if (draft.verified !== undefined) event.verified = draft.verified;
  if (origin.causationid !== undefined) event.causationid = origin.causationid;
  event.rootid = origin.root?.id ?? event.id;
  event.rootprincipal = origin.root?.principal ?? origin.principal;
  if (origin.schemaversion !== undefined) event.schemaversion = origin.schemaversion;
  return event;
}

/** The root of the chain `event` belongs to (an event stored before roots were recorded is its own). */
export function rootOf(event: Pick<CloudEvent, "id" | "principal" | "rootid" | "rootprincipal">): {
  id: string;
  principal: string;
} {
  return { id: event.rootid ?? event.id, principal: event.rootprincipal ?? event.principal };
}

/** Serialized size of an event's data (text as is, JSON serialized). */
export function dataBytes(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  return data === undefined ? 0 : Buffer.byteLength(JSON.stringify(data) ?? "");
}
