import { PalisadeError } from "../errors.ts";
import { compileSchema, createAjv } from "../schema/index.ts";
import { RESERVED_EXTENSIONS } from "./cloud-event.ts";
import type { EventDraft } from "./create-event.ts";
import { EVENT_INVALID } from "./errors.ts";

const NON_EMPTY = { type: "string", minLength: 1, maxLength: 1024 };
const OPTIONAL = {
  subject: NON_EMPTY,
  time: { type: "string", format: "date-time" },
  traceparent: { type: "string", maxLength: 55 },
};

// CloudEvents 1.0 §3.1 required attributes. Only JSON data is accepted (datacontenttype, if given,
// must say so); `data_base64` and unknown extensions are refused rather than silently dropped.
const structured = compileSchema(createAjv(), {
  type: "object",
  required: ["specversion", "id", "source", "type"],
  properties: {
    specversion: { const: "1.0" },
    id: NON_EMPTY,
    source: { type: "string", format: "uri-reference", minLength: 1, maxLength: 1024 },
    type: NON_EMPTY,
    datacontenttype: { enum: ["application/json", "application/json; charset=utf-8"] },
    dataschema: { type: "string", format: "uri" },
    data: true,
    ...OPTIONAL,
  },
  additionalProperties: false,
});

// The short form: `{ "type": "...", "data": { ... } }`, like EventBridge's PutEvents entry.
const plain = compileSchema(createAjv(), {
  type: "object",
  required: ["type"],
  properties: { type: NON_EMPTY, data: true, id: NON_EMPTY, ...OPTIONAL },
  additionalProperties: false,
});

/**
 * Parses an already JSON-decoded request body into an event draft. Structured-mode CloudEvents are
 * recognised by `specversion`; anything else must be the short `{ type, data }` form.
 */
export function parseEvent(body: unknown): EventDraft {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("Cannot accept event: the body must be a JSON object", [
      { pointer: "", message: "must be an object" },
    ]);
  }
  const record = body as Record<string, unknown>;
  const reserved = RESERVED_EXTENSIONS.filter((name) => name in record);
  if (reserved.length > 0) {
    throw invalid(`Cannot accept event: "${reserved.join('", "')}" may only be set by Palisade`, [
      ...reserved.map((name) => ({ pointer: `/${name}`, message: "is set by the platform; remove it" })),
    ]);
  }
  const isStructured = "specversion" in record;
  const failures = (isStructured ? structured : plain)(record);
  if (failures.length > 0) {
    const list = failures.map((f) => `${f.pointer || "/"} ${f.message}`).join("; ");
    throw invalid(`Cannot accept event: ${list}`, failures);
  }
  const draft: EventDraft = { type: record.type as string, data: record.data ?? null };
  for (const key of ["id", "source", "subject", "time", "traceparent"] as const) {
    if (typeof record[key] === "string") draft[key] = record[key];
  }
  return draft;
}

function invalid(message: string, details: unknown): PalisadeError {
  return new PalisadeError(EVENT_INVALID, message, { status: 400, details });
}
