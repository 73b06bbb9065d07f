import { PalisadeError } from "../errors.ts";
import { JSON_MEDIA_TYPE } from "./cloud-event.ts";
import type { EventDraft } from "./create-event.ts";
import { EVENT_UNSUPPORTED_MEDIA } from "./errors.ts";
import { dataKind } from "./media-type.ts";
import { invalid, parseStructured } from "./parse-event.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a binary-mode CloudEvent (HTTP binding §3.1): every `ce-<name>` header is an attribute,
 * percent-decoded as UTF-8 (§3.1.3.2), `Content-Type` is `datacontenttype` and the body is `data`:
 * already-parsed JSON for JSON media types, a Buffer of UTF-8 text otherwise.
 */
export function parseBinary(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: unknown,
): EventDraft {
  const record: Record<string, unknown> = {};
  const failures: { pointer: string; message: string }[] = [];
  for (const [header, raw] of Object.entries(headers)) {
    if (!header.startsWith("ce-") || raw === undefined) continue;
    const name = header.slice(3);
    const value = Array.isArray(raw) ? raw.join(",") : raw;
    const decoded = decodeHeader(value);
    if (decoded === undefined)
      failures.push({
        pointer: `/${name}`,
        message: `header "${header}" is not valid percent-encoded UTF-8`,
      });
    else record[name] = decoded;
  }
  if (record.specversion === undefined)
    failures.push({
      pointer: "/specversion",
      message:
        'header "ce-specversion" is required: a request with ce-* headers is in binary mode; send "ce-specversion: 1.0", or the event as application/cloudevents+json',
    });
  if (failures.length > 0)
    throw invalid(`Cannot accept event: ${failures.map((f) => f.message).join("; ")}`, failures);

  const contentType = typeof headers["content-type"] === "string" ? headers["content-type"] : JSON_MEDIA_TYPE;
  record.datacontenttype = contentType;
  const kind = dataKind(contentType);
  if (kind === undefined) {
    throw new PalisadeError(
      EVENT_UNSUPPORTED_MEDIA,
      `Cannot accept event data of type "${contentType}"; send JSON, text or XML`,
      { status: 415 },
    );
  }
  if (Buffer.isBuffer(body)) {
    if (body.length > 0) {
      const text = decodeText(body);
      if (text === undefined)
        throw invalid("Cannot accept event: the body is not valid UTF-8", [
          { pointer: "/data", message: "is not valid UTF-8" },
        ]);
      record.data = text;
    }
  } else if (body !== undefined) {
    record.data = body;
  }
  return parseStructured(record, "");
}

/** Decodes a `ce-*` header value (§3.1.3.2: printable ASCII, anything else percent-encoded UTF-8). */
export function decodeHeader(value: string): string | undefined {
  if (!/^[\x20-\x7e]*$/.test(value)) return undefined;
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "%") {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(value.charCodeAt(i));
    }
  }
  return decodeText(Buffer.from(bytes));
}

function decodeText(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}
