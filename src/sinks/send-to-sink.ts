/**
 * Delivers one event to one sink over HTTP: the CloudEvents HTTP protocol binding v1.0.2 (structured
 * or binary content mode), the sink's credential (a bearer token or a Standard Webhooks signature),
 * trace context, and the event's `dssematerial` (CloudEvents verifiability extension). The outcome
 * says whether the receiver took the event, whether trying later may help, or why it never will.
 *
 * Threat model: as ctx.fetch (runtime/egress.ts, whose policy this reuses): the receiver and its DNS
 * are untrusted. A delivery reaches only the sink's grants (sink-target.ts), pinned to the addresses
 * checked; follows no redirect (a receiver could bounce the event, its credential and signature to
 * another host); is bounded in time, and reads at most `maxResponseBytes` of any answer, which it
 * discards. Secrets never appear in outcomes. Not covered: what the receiver does with the event.
 */

import { createHash, createHmac } from "node:crypto";
import type { LookupAddress } from "node:dns";
import { PalisadeError, toPalisadeError } from "../errors.ts";
import { type CloudEvent, wireFormOf } from "../events/index.ts";
import { egressFetch, type FetchResult, RUNTIME_DENIED } from "../runtime/index.ts";
import { egressRulesFor, SINK_INVALID, type SinkTarget } from "./sink-target.ts";

/** What came of one delivery attempt. */
export type SinkOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "retry"; status?: number; retryAfterMs?: number; message: string }
  | { kind: "failed"; status?: number; message: string };

/** Context attributes as they go on the wire (CloudEvents type system: string, integer, boolean). */
type SinkAttributes = Record<string, string | number | boolean>;

export interface SendToSinkOptions {
  /** The `dssematerial` attribute to send, computed over the event's wire form (events/wire-form.ts). */
  dssematerial?: string;
  /** W3C trace context of this delivery's span (HTTP headers). @default the event's traceparent */
  traceparent?: string;
  tracestate?: string;
  /** @default dns.promises.lookup with `all: true` */
  lookup?: (hostname: string) => Promise<readonly LookupAddress[]>;
  /** CA certificates trusted for https in addition to the default ones. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Clock (ms since the epoch) for webhook timestamps and `Retry-After` dates. @default Date.now */
  now?: () => number;
}

/** Longest `Retry-After` honoured; a receiver asking for more is tried again after this. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

// RFC 9110 §15: timeouts, too early, and server-side failures that may pass; 429 and 503 also carry
// Retry-After (§10.2.3). Everything else (4xx, 501, 505...) will fail the same way again.
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
/**
 * Sends `event` to `target` once. Never rejects: a refusal by the egress policy or the sink's own
 * configuration is `failed` (no retry can cure it), as is any 3xx (redirects are not followed).
 */
export async function sendToSink(
  target: SinkTarget,
  event: CloudEvent,
  options: SendToSinkOptions = {},
): Promise<SinkOutcome> {
  const now = options.now ?? Date.now;
  let res: FetchResult;
  try {
    const { headers, body } = buildRequest(target, event, options, now());
    res = await egressFetch(
      target.url.href,
      { method: "POST", headers, body },
      {
        fn: target.name,
        caller: "sink",
        rules: egressRulesFor(target),
        followRedirects: false,
        truncateBody: true,
        timeoutMs: target.timeoutMs,
        maxResponseBytes: target.maxResponseBytes,
        maxRequestBytes: body.length, // built here from a stored event: already bounded
        ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
    );
  } catch (err) {
    const error = toPalisadeError(err);
    if (error.code !== RUNTIME_DENIED && error.retryable) return { kind: "retry", message: error.message };
    return { kind: "failed", message: error.message };
  }
  return classify(res, target, event, now());
}

function buildRequest(target: SinkTarget, event: CloudEvent, options: SendToSinkOptions, now: number) {
  // What the platform's signature covers (events/wire-form.ts), sent exactly so.
  const wire = wireFormOf(event);
  const attributes: SinkAttributes = { ...wire.attributes };
  if (options.dssematerial !== undefined) attributes.dssematerial = options.dssematerial;
  const traceparent = options.traceparent ?? event.traceparent;
  const headers: Record<string, string> = {};
  let body: Uint8Array;
  if (target.mode === "structured") {
    // JSON event format §3.1: JSON data inline as JSON (its compact text: the signed bytes), text
    // data as a string (its value: the signed bytes). Distributed tracing extension: traceparent.
    const envelope: Record<string, unknown> = { ...attributes, traceparent };
    if (event.data !== null && event.data !== undefined) envelope.data = event.data;
    body = new Uint8Array(Buffer.from(JSON.stringify(envelope), "utf8"));
    headers["content-type"] = "application/cloudevents+json; charset=utf-8";
  } else {
    // HTTP binding §3.1.3: each attribute a ce- header, datacontenttype as Content-Type.
    body = wire.data;
    headers["content-type"] = event.datacontenttype;
    for (const [name, value] of Object.entries(attributes))
      if (name !== "datacontenttype") headers[`ce-${name}`] = encodeHeaderValue(String(value));
  }
  headers.traceparent = traceparent;
  if (options.tracestate !== undefined) headers.tracestate = options.tracestate;
  if (target.auth?.kind === "bearer") headers.authorization = `Bearer ${bearerToken(target)}`;
  if (target.auth?.kind === "webhook")
    Object.assign(headers, webhookHeaders(target, webhookId(event), now, body));
  return { headers, body };
}

/**
 * HTTP binding §3.1.3.2: space, `"`, `%` and anything outside printable ASCII are percent-encoded,
 * byte by byte of the UTF-8 encoding.
 */
function encodeHeaderValue(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8"))
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

function bearerToken(target: SinkTarget): string {
  const secret = target.auth?.secret ?? "";
  // RFC 6750 §2.1 b64token is narrower; anything printable passes, nothing that breaks the header.
  if (!/^[\x21-\x7e]+$/.test(secret))
    throw invalidConfig(
      `Sink "${target.name}" has a bearer secret that is empty or not printable ASCII; store the token without spaces or line breaks`,
    );
  return secret;
}

/**
 * The `webhook-id` of an event: the same on every attempt (receivers dedupe on it), and apart for
 * events of different senders that reuse an id (dedupe is per principal and source).
 */
export function webhookId(event: Pick<CloudEvent, "principal" | "source" | "id">): string {
  const digest = createHash("sha256")
    .update(`${event.principal}\0${event.source}\0${event.id}`)
    .digest("hex");
  return `msg_${digest.slice(0, 32)}`;
}

/**
 * Standard Webhooks: `webhook-id` (see webhookId), `webhook-timestamp`
 * (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 */
function webhookHeaders(target: SinkTarget, eventId: string, now: number, body: Uint8Array) {
  const secret = target.auth?.secret ?? "";
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded) || encoded === "")
    throw invalidConfig(
      `Sink "${target.name}" has a webhook secret that is not "whsec_<base64>" or base64; store the secret the receiver was given, e.g. "whsec_" followed by base64 of 24 to 64 random bytes`,
    );
  const id = encodeHeaderValue(eventId);
  const timestamp = String(Math.floor(now / 1000));
  const signature = createHmac("sha256", Buffer.from(encoded, "base64"))
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest("base64");
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` };
}

function classify(res: FetchResult, target: SinkTarget, event: CloudEvent, now: number): SinkOutcome {
  const { status } = res;
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  const header = (name: string) => res.headers.find(([n]) => n === name)?.[1];
  const answered = `Cannot deliver event ${quote(event.id)} to sink "${target.name}": ${target.url.origin} answered ${status}${res.statusText === "" ? "" : ` ${quote(res.statusText)}`}`;
  if (status >= 300 && status < 400) {
    const location = header("location");
    const where = location === undefined ? "" : ` redirecting to ${quote(location)}`;
    return {
      kind: "failed",
      status,
      message: `${answered}${where}; redirects are not followed: set sinks.${target.name}.url to the address that takes the events`,
    };
  }
  const message = `${answered}${excerpt(res.body)}`;
  if (!RETRY_STATUSES.has(status)) return { kind: "failed", status, message };
  const retryAfterMs =
    status === 429 || status === 503 ? parseRetryAfter(header("retry-after"), now) : undefined;
  return retryAfterMs === undefined
    ? { kind: "retry", status, message }
    : { kind: "retry", status, retryAfterMs, message };
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) in ms from `now`: delta-seconds or an HTTP-date, capped at
 * MAX_RETRY_AFTER_MS; undefined when absent or unreadable.
 */
function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  const text = value?.trim() ?? "";
  if (/^\d{1,10}$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms recipients must also read.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** The start of a receiver's answer, for the message (quoted and clipped: it is untrusted). */
function excerpt(body: Uint8Array): string {
  if (body.length === 0) return "";
  return `: ${quote(Buffer.from(body.subarray(0, 400)).toString("utf8"))}`;
}

const quote = (value: string) => JSON.stringify(value.slice(0, 200));

function invalidConfig(message: string): PalisadeError {
  return new PalisadeError(SINK_INVALID, message, { status: 400 });
}
