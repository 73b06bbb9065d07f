import { type EventSigningKey, signEvent, type VerifiableEvent } from "../verifiable/index.ts";
import type { CloudEvent } from "./cloud-event.ts";
import { dataKind } from "./media-type.ts";

/** Context attributes and extensions of an event as it leaves the platform, and its data bytes. */
export interface WireEvent extends VerifiableEvent {
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** Extension attributes the platform's signature covers, in order. */
  readonly signed: readonly string[];
}

// Transport metadata: they change on every hop, so no signature covers them.
const UNSIGNED = new Set(["traceparent", "tracestate"]);

/**
 * The CloudEvent as Palisade sends it out (sinks) and signs it: the context attributes, the
 * producer's extensions, and who produced it (`palisadeprincipal`) and which producer key verified
 * it (`palisadeverified`), both as extensions. They are not named `principal` and `verified`: those
 * are Palisade's own, which a receiving Palisade refuses from a sender. Data bytes are the data's compact JSON for JSON media types, its
 * UTF-8 text otherwise, nothing when there is none: exactly the bytes a sink sends.
 */
export function wireFormOf(event: CloudEvent): WireEvent {
  const attributes: Record<string, string | number | boolean> = {
    specversion: event.specversion,
    id: event.id,
    source: event.source,
    type: event.type,
    datacontenttype: event.datacontenttype,
    time: event.time,
  };
  if (event.dataschema !== undefined) attributes.dataschema = event.dataschema;
  if (event.subject !== undefined) attributes.subject = event.subject;
  const signed: string[] = [];
  for (const [name, value] of Object.entries(event.extensions ?? {})) {
    attributes[name] = value;
    if (!UNSIGNED.has(name)) signed.push(name);
  }
  attributes.palisadeprincipal = event.principal;
  signed.push("palisadeprincipal");
  if (event.verified !== undefined) {
    attributes.palisadeverified = event.verified;
    signed.push("palisadeverified");
  }
  return { attributes, data: dataBytesOf(event), signed };
}

/** The bytes of an event's data on the wire (see wireFormOf). */
export function dataBytesOf(event: Pick<CloudEvent, "data" | "datacontenttype">): Uint8Array {
  const { data } = event;
  if (data === null || data === undefined) return new Uint8Array(0);
  if (dataKind(event.datacontenttype) === "text" && typeof data === "string") return Buffer.from(data);
  return Buffer.from(JSON.stringify(data));
}

/** The platform's `dssematerial` for `event` as it is on the wire (wireFormOf), signed with `key`. */
export function signWireForm(event: CloudEvent, key: EventSigningKey): string {
  const wire = wireFormOf(event);
  return signEvent(wire, key, wire.signed);
}
