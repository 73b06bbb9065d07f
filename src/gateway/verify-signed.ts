/**
 * Producer-signed events at ingress (CloudEvents verifiability extension): each event of a principal
 * that declares `signing:` keys is verified against the bytes it arrived as, before anything else
 * reads it. Structured and batch events are checked over their attributes as sent and the raw text of
 * their `data` member (json-data-span.ts); binary ones over their `ce-*` headers and the body bytes.
 *
 * Threat model: whoever sits between the producer and Palisade (a proxy, a queue, a stolen API key)
 * may change, strip or forge events. An event that fails any check of the spec's verification
 * protocol is refused with a 4xx naming the reason, never stored. A principal with `requireSigned`
 * (the default once keys are declared) has every unsigned event refused (a stripped signature is a
 * downgrade); otherwise an unsigned event is accepted but not marked verified. A verified event keeps
 * only the extension attributes its signature covers (the spec's strict mode) and records the key id
 * in `verified`, which producers cannot set themselves. `dssematerial` is never stored as sent: what
 * a producer signed were bytes Palisade does not keep; Palisade signs what it sends out itself.
 */
import type { IncomingHttpHeaders } from "node:http";
import { PalisadeError } from "../errors.ts";
import {
  type ContentMode,
  dataKind,
  decodeHeader,
  type EventDraft,
  JSON_MEDIA_TYPE,
} from "../events/index.ts";
import type { SigningSpec } from "../manifest/index.ts";
import { type DiscardReason, dataSpans, type VerifiableEvent } from "../verifiable/index.ts";
import { GATEWAY_UNSIGNED, GATEWAY_UNVERIFIED } from "./errors.ts";
import type { EventVerifier } from "./event-verifier.ts";

/** What the events arrived as: the content mode, the parsed body, its raw bytes and the headers. */
export interface SignedInput {
  readonly mode: ContentMode | undefined;
  readonly body: unknown;
  readonly raw: Buffer | undefined;
  readonly headers: IncomingHttpHeaders;
}

// Material so malformed that no signature check is made; the rest are failed verifications.
const MALFORMED: ReadonlySet<DiscardReason> = new Set([
  "material-encoding",
  "material-utf8",
  "envelope",
  "payload-type",
  "payload",
  "digest-length",
  "signedextattrs",
  "ext-pairing",
  "ext-type",
  "time",
  "core-type",
]);

/**
 * Verifies `drafts` (parsed from `input`) for `principal` under its signing policy; resolves to the
 * drafts as they may be stored (verified ones marked, their unsigned extensions dropped; the
 * material removed from all). Throws a 400 or 403 for the first event that must be discarded.
 */
export async function verifySigned(
  principal: string,
  drafts: readonly EventDraft[],
  input: SignedInput,
  policy: SigningSpec | undefined,
  verify: EventVerifier,
): Promise<EventDraft[]> {
  const batch = input.mode === "batch";
  const spans = policy === undefined || input.mode === "binary" ? undefined : rawSpans(input.raw);
  // The verifications run on a worker thread, all of a batch's at once; the first event that
  // must be discarded (in request order) refuses the request.
  const results = await Promise.all(
    drafts.map(async (draft, i) => {
      const { dssematerial, ...rest } = draft.extensions ?? {};
      if (policy === undefined) return withExtensions(draft, rest);
      const at = batch ? `/${i}` : "";
      if (dssematerial === undefined || dssematerial === "") {
        if (!policy.requireSigned) return withExtensions(draft, rest);
        return new PalisadeError(
          GATEWAY_UNSIGNED,
          `Cannot accept event${at === "" ? "" : ` ${at}`}: principal "${principal}" must sign its events (principals.${principal}.signing.requireSigned) and this one has no dssematerial; sign it with one of the declared keys (palisade send --sign-key, or the palisade/client SDK)`,
          {
            status: 403,
            details: [{ pointer: `${at}/dssematerial`, message: "is required", reason: "unsigned" }],
          },
        );
      }
      const event = verifiable(draft, input, i, spans);
      const result =
        event === undefined
          ? ({
              ok: false,
              reason: "payload",
              message:
                "the event was not sent as a CloudEvent (structured, batch or binary mode), so it cannot carry a signature",
            } as const)
          : await verify(event, String(dssematerial), policy.keys);
      if (!result.ok) {
        const status = MALFORMED.has(result.reason) ? 400 : 403;
        return new PalisadeError(
          GATEWAY_UNVERIFIED,
          `Cannot accept event${at === "" ? "" : ` ${at}`} from principal "${principal}": ${result.message}`,
          {
            status,
            details: [{ pointer: `${at}/dssematerial`, message: result.message, reason: result.reason }],
          },
        );
      }
      const signed = new Set(result.signedextattrs);
      const kept = Object.fromEntries(Object.entries(rest).filter(([name]) => signed.has(name)));
      return { ...withExtensions(draft, kept), verified: result.keyid };
    }),
  );
  const refused = results.find((r) => r instanceof PalisadeError);
  if (refused !== undefined) throw refused;
  return results as EventDraft[];
}

function rawSpans(raw: Buffer | undefined): ReturnType<typeof dataSpans> {
  return raw === undefined ? undefined : dataSpans(raw.toString("utf8"));
}

function withExtensions(
  draft: EventDraft,
  extensions: Record<string, string | number | boolean>,
): EventDraft {
  const { extensions: _old, ...rest } = draft;
  return Object.keys(extensions).length === 0 ? rest : { ...rest, extensions };
}

/** The event as its producer signed it: attributes and data bytes as they arrived. */
function verifiable(
  draft: EventDraft,
  input: SignedInput,
  i: number,
  spans: ReturnType<typeof dataSpans>,
): VerifiableEvent | undefined {
  if (input.mode === "binary") {
    const attributes: Record<string, string> = {};
    for (const [header, raw] of Object.entries(input.headers)) {
      if (!header.startsWith("ce-") || raw === undefined || header === "ce-dssematerial") continue;
      const value = decodeHeader(Array.isArray(raw) ? raw.join(",") : raw);
      if (value !== undefined) attributes[header.slice(3)] = value;
    }
    const type = input.headers["content-type"];
    if (typeof type === "string") attributes.datacontenttype = type;
    return { attributes, data: input.raw ?? new Uint8Array(0) };
  }
  const record = input.mode === "batch" ? (input.body as unknown[])[i] : input.body;
  if (input.mode === undefined || typeof record !== "object" || record === null) return undefined;
  const attributes: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(record)) {
    if (name === "data" || name === "data_base64" || name === "dssematerial") continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      attributes[name] = value;
  }
  const span = spans?.[input.mode === "batch" ? i : 0];
  if (!("data" in record) || span?.raw === undefined) return { attributes, data: new Uint8Array(0) };
  // JSON data is its text as sent (with and without the whitespace before it); text data (a JSON
  // string for a text media type) is also its value's UTF-8 bytes.
  const alternatives: Uint8Array[] = [];
  if (span.trimmed !== undefined && span.trimmed !== span.raw) alternatives.push(Buffer.from(span.trimmed));
  const media = draft.datacontenttype ?? JSON_MEDIA_TYPE;
  if (dataKind(media) === "text" && typeof draft.data === "string")
    alternatives.push(Buffer.from(draft.data));
  return { attributes, data: Buffer.from(span.raw), dataAlternatives: alternatives };
}
