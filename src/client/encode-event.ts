import { randomUUID } from "node:crypto";
import { CORE_ATTRIBUTES, type EventSigningKey, signEvent } from "../verifiable/index.ts";
import { CLIENT_INVALID_EVENT } from "./errors.ts";
import type { ExtensionValue, OutgoingEvent } from "./outgoing-event.ts";
import { PalisadeClientError } from "./palisade-client-error.ts";

/** CloudEvents 1.0 context attributes and data members: never taken as extension names. */
export const CORE_NAMES: ReadonlySet<string> = new Set([...CORE_ATTRIBUTES, "data", "data_base64"]);

/**
 * The verifiability extension's attribute (cloudevents/extensions/verifiability.md), and the name of
 * the list it signs, which an earlier draft carried as an attribute: neither may be an extension.
 */
export const VERIFIABILITY_ATTRIBUTES: ReadonlySet<string> = new Set(["dssematerial", "signedextattrs"]);

/** How a client encodes its events. */
export interface EncodeOptions {
  readonly source: string;
  readonly signingKey: EventSigningKey | undefined;
  /** Extension names signed when an event carries them; undefined: every extension it carries. */
  readonly signedExtensions: readonly string[] | undefined;
}

/** One event in structured mode (HTTP binding §3.2): its id and its JSON text. */
export interface EncodedEvent {
  readonly id: string;
  readonly text: string;
}

/**
 * Encodes one event as structured-mode JSON, filling `specversion`, `id`, `time`, `source` and
 * `datacontenttype`, and signs it (verifiability extension) when the client has a key. The text is
 * built once and sent as is on every retry, so the id stays the same (the gateway's dedupe makes a
 * retry idempotent) and the signed bytes are the sent bytes: the `data` member is exactly
 * `JSON.stringify(data)`, the text the gateway digests.
 */
export function encodeEvent(event: OutgoingEvent, options: EncodeOptions): EncodedEvent {
  const id = event.id ?? randomUUID();
  const attributes: Record<string, ExtensionValue> = {
    specversion: "1.0",
    id,
    source: event.source ?? options.source,
    type: event.type,
    datacontenttype: event.datacontenttype ?? "application/json",
  };
  if (event.dataschema !== undefined) attributes.dataschema = event.dataschema;
  if (event.subject !== undefined) attributes.subject = event.subject;
  attributes.time = timeOf(event.time ?? new Date(), id);
  const extensions = event.extensions ?? {};
  for (const [name, value] of Object.entries(extensions)) {
    if (CORE_NAMES.has(name))
      throw invalid(
        id,
        `extension "${name}" is a CloudEvents core attribute; set it as a field of the event`,
      );
    if (options.signingKey !== undefined && VERIFIABILITY_ATTRIBUTES.has(name))
      throw invalid(id, `extension "${name}" is set by the client when it signs; remove it`);
    attributes[name] = value;
  }
  const dataText = dataTextOf(event, id);
  if (options.signingKey !== undefined) sign(attributes, dataText, options);
  const head = JSON.stringify(attributes);
  const text = dataText === undefined ? head : `${head.slice(0, -1)},"data":${dataText}}`;
  return { id, text };
}

function sign(
  attributes: Record<string, ExtensionValue>,
  dataText: string | undefined,
  options: EncodeOptions,
) {
  const present = Object.keys(attributes).filter(
    (name) => !CORE_NAMES.has(name) && !VERIFIABILITY_ATTRIBUTES.has(name),
  );
  const signed = options.signedExtensions?.filter((name) => present.includes(name)) ?? present;
  // The names signed travel inside the signed material (its `signedextattrs`), not as an attribute.
  const data = dataText === undefined ? new Uint8Array() : Buffer.from(dataText, "utf8");
  try {
    attributes.dssematerial = signEvent({ attributes, data }, options.signingKey as EventSigningKey, signed);
  } catch (err) {
    throw invalid(String(attributes.id), (err as Error).message, err);
  }
}

function timeOf(time: string | Date, id: string): string {
  if (typeof time === "string") return time;
  if (Number.isNaN(time.getTime())) throw invalid(id, "time is an invalid Date");
  return time.toISOString();
}

/** The JSON text of `data`, or undefined for an event without data. */
function dataTextOf(event: OutgoingEvent, id: string): string | undefined {
  if (!("data" in event) || event.data === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(event.data);
  } catch (err) {
    throw invalid(id, `data cannot be sent as JSON: ${(err as Error).message}`, err);
  }
  if (text === undefined) throw invalid(id, `data of type ${typeof event.data} cannot be sent as JSON`);
  return text;
}

function invalid(id: string, message: string, cause?: unknown): PalisadeClientError {
  return new PalisadeClientError(CLIENT_INVALID_EVENT, `Cannot send event "${id}": ${message}`, {
    status: 0,
    ids: [id],
    ...(cause === undefined ? {} : { cause }),
  });
}
