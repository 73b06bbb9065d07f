import { PalisadeError } from "../errors.ts";
import { compileSchema, createAjv, type FieldError } from "../schema/index.ts";
import { JSON_MEDIA_TYPE, RESERVED_EXTENSIONS } from "./cloud-event.ts";
import type { EventDraft } from "./create-event.ts";
import { EVENT_INVALID } from "./errors.ts";
import { dataKind } from "./media-type.ts";
import { isReservedSource } from "./platform-events.ts";

const NON_EMPTY = { type: "string", minLength: 1, maxLength: 1024 };

/** CloudEvents 1.0 context attributes (spec §3.1) and their checks. */
export const CONTEXT_ATTRIBUTES = {
  specversion: { const: "1.0" },
  id: NON_EMPTY,
  source: { type: "string", format: "uri-reference", minLength: 1, maxLength: 1024 },
  type: NON_EMPTY,
  datacontenttype: { type: "string", minLength: 1, maxLength: 255 },
  dataschema: { type: "string", format: "uri", maxLength: 1024 },
  subject: NON_EMPTY,
  time: { type: "string", format: "date-time" },
  // W3C Trace Context travels as the CloudEvents distributed-tracing extension.
  // 55 for version 00; a later version may append fields (W3C Trace Context §3.2.4), read by its first four
  traceparent: { type: "string", maxLength: 256 },
} as const;

// Extension names: lower-case letters and digits, at most 20 (spec §3.1.1 naming conventions).
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const MAX_EXTENSIONS = 32;
/** Longest `dssematerial` accepted (a DSSE envelope with a few signatures is under 2 KiB). */
const MAX_MATERIAL = 16 * 1024;
/** Most events one batch request may carry. */
export const MAX_BATCH = 1000;

const attributes = compileSchema(createAjv(), {
  type: "object",
  required: ["specversion", "id", "source", "type"],
  properties: { ...CONTEXT_ATTRIBUTES },
});

// The short form: `{ "type": "...", "data": { ... } }`, like EventBridge's PutEvents entry.
const plain = compileSchema(createAjv(), {
  type: "object",
  required: ["type"],
  properties: {
    type: NON_EMPTY,
    data: true,
    id: NON_EMPTY,
    subject: NON_EMPTY,
    time: CONTEXT_ATTRIBUTES.time,
    traceparent: CONTEXT_ATTRIBUTES.traceparent,
  },
  additionalProperties: false,
});

/**
 * Parses an already JSON-decoded request body into an event draft. Structured-mode CloudEvents
 * (HTTP binding §3.2) are recognised by `specversion`; anything else must be the short form.
 */
export function parseEvent(body: unknown): EventDraft {
  const record = asObject(body, "");
  if ("specversion" in record) return parseStructured(record, "");
  checkReserved(record, "");
  fail(plain(record), "");
  const draft: EventDraft = { type: record.type as string, data: record.data ?? null };
  copyStrings(record, draft, ["id", "subject", "time", "traceparent"]);
  return draft;
}

/** Parses a batch (`application/cloudevents-batch+json`, HTTP binding §3.3): all valid, or none. */
export function parseBatch(body: unknown): EventDraft[] {
  if (!Array.isArray(body))
    throw invalid("Cannot accept batch: the body must be a JSON array of events", [
      { pointer: "", message: "must be an array" },
    ]);
  if (body.length > MAX_BATCH) {
    throw invalid(`Cannot accept batch: ${body.length} events, at most ${MAX_BATCH} per request`, [
      { pointer: "", message: `must have at most ${MAX_BATCH} items` },
    ]);
  }
  return body.map((item, i) => {
    return parseStructured(asObject(item, `/${i}`), `/${i}`);
  });
}

/** Checks a structured-mode event and keeps its attributes, extensions and data as sent. */
export function parseStructured(record: Record<string, unknown>, at: string): EventDraft {
  checkReserved(record, at);
  const failures = attributes(record);
  if (typeof record.source === "string" && isReservedSource(record.source))
    failures.push({
      pointer: "/source",
      message: `"${record.source.slice(0, 64)}" uses the scheme "palisade:", which only the platform may use; set a URI of your own (e.g. https://example.com/shop)`,
    });
  const extensions: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(record)) {
    if (name in CONTEXT_ATTRIBUTES || name === "data" || name === "data_base64") continue;
    const problem = extensionProblem(name, value);
    if (problem) failures.push({ pointer: `/${name}`, message: problem });
    else extensions[name] = value as string | number | boolean;
  }
  if (Object.keys(extensions).length > MAX_EXTENSIONS)
    failures.push({ pointer: "", message: `has more than ${MAX_EXTENSIONS} extension attributes` });
  const mediaType = typeof record.datacontenttype === "string" ? record.datacontenttype : JSON_MEDIA_TYPE;
  if ("data_base64" in record) {
    const message =
      "data" in record
        ? "must not be set together with data (spec §3.1.1)"
        : "is not accepted: event data must be JSON or text";
    failures.push({ pointer: "/data_base64", message });
  }
  const kind = dataKind(mediaType);
  if (kind === undefined)
    failures.push({
      pointer: "/datacontenttype",
      // Not quoted: in structured mode it is the sender's body, and refusals are logged.
      message: "is not a JSON, text or XML media type",
    });
  if (kind === "text" && "data" in record && typeof record.data !== "string")
    failures.push({ pointer: "/data", message: `must be a string for "${mediaType}"` });
  fail(failures, at);

  const draft: EventDraft = {
    type: record.type as string,
    data: record.data ?? null,
    datacontenttype: mediaType,
  };
  copyStrings(record, draft, ["id", "source", "subject", "time", "traceparent", "dataschema"]);
  if (Object.keys(extensions).length > 0) draft.extensions = extensions;
  return draft;
}

/** Why an extension attribute is refused, or undefined when it is acceptable. */
export function extensionProblem(name: string, value: unknown): string | undefined {
  if (!EXTENSION_NAME.test(name))
    return "is not a valid extension name (lower-case letters and digits, at most 20)";
  const type = typeof value;
  // The verification material (a DSSE envelope, base64) grows with its signatures.
  const longest = name === "dssematerial" ? MAX_MATERIAL : 1024;
  if (type === "string")
    return (value as string).length > longest ? `must be at most ${longest} characters` : undefined;
  if (type === "boolean") return undefined;
  if (type === "number" && Number.isSafeInteger(value)) return undefined;
  return "must be a string, an integer or a boolean";
}

function checkReserved(record: Record<string, unknown>, at: string): void {
  const reserved = RESERVED_EXTENSIONS.filter((name) => name in record);
  if (reserved.length === 0) return;
  throw invalid(
    `Cannot accept event: "${reserved.join('", "')}" may only be set by Palisade`,
    reserved.map((name) => ({ pointer: `${at}/${name}`, message: "is set by the platform; remove it" })),
  );
}

function asObject(value: unknown, at: string): Record<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>;
  throw invalid("Cannot accept event: each event must be a JSON object", [
    { pointer: at, message: "must be an object" },
  ]);
}

function copyStrings(
  from: Record<string, unknown>,
  to: EventDraft,
  keys: readonly ("id" | "source" | "subject" | "time" | "traceparent" | "dataschema")[],
): void {
  for (const key of keys) if (typeof from[key] === "string") to[key] = from[key];
}

function fail(failures: FieldError[], at: string): void {
  if (failures.length === 0) return;
  const details = failures.map((f) => ({ pointer: `${at}${f.pointer}`, message: f.message }));
  throw invalid(
    `Cannot accept event: ${details.map((d) => `${d.pointer || "/"} ${d.message}`).join("; ")}`,
    details,
  );
}

/** A 400 naming every failing field. */
export function invalid(message: string, details: unknown): PalisadeError {
  return new PalisadeError(EVENT_INVALID, message, { status: 400, details });
}
