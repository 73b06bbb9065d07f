/**
 * How an event travels in the events stream: what dedupe and routing need in headers (each value
 * URI-encoded, so no id or source can break a header line), the sealed envelope as the data.
 */
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { RawEvent, RawStoredEvent } from "../store.ts";

const ID = "Pal-Id";
const SOURCE = "Pal-Source";
const PRINCIPAL = "Pal-Principal";
const TYPE = "Pal-Type";
const ACCEPTED = "Pal-Accepted";

/** The headers of an event message. */
export function eventHeaders(e: RawEvent, acceptedAt: number): MsgHdrs {
  const h = headers();
  h.set(ID, encodeURIComponent(e.id));
  h.set(SOURCE, encodeURIComponent(e.source));
  h.set(PRINCIPAL, encodeURIComponent(e.principal));
  h.set(TYPE, encodeURIComponent(e.type));
  h.set(ACCEPTED, String(acceptedAt));
  return h;
}

/** A stored event message back as a record, or undefined when it is not one this store wrote. */
export function eventOf(seq: number, h: MsgHdrs | undefined, data: Uint8Array): RawStoredEvent | undefined {
  if (h === undefined) return undefined;
  const get = (name: string): string | undefined => {
    const v = h.get(name);
    if (v === "") return undefined;
    try {
      return decodeURIComponent(v);
    } catch {
      return undefined;
    }
  };
  const [id, source, principal, type, accepted] = [ID, SOURCE, PRINCIPAL, TYPE, ACCEPTED].map(get);
  if (id === undefined || source === undefined || principal === undefined || type === undefined)
    return undefined;
  const acceptedAt = Number(accepted);
  return {
    seq,
    id,
    source,
    principal,
    type,
    body: new TextDecoder().decode(data),
    acceptedAt: Number.isFinite(acceptedAt) ? acceptedAt : 0,
  };
}

/** The event id a message's headers name (for scans that read headers only). */
export function eventIdOf(h: MsgHdrs | undefined): string | undefined {
  const v = h?.get(ID);
  if (v === undefined || v === "") return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}
