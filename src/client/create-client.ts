import { type EventSigningKey, signEvent } from "../verifiable/index.ts";
import { CORE_NAMES, type EncodeOptions, encodeEvent, VERIFIABILITY_ATTRIBUTES } from "./encode-event.ts";
import { CLIENT_BAD_OPTIONS, CLIENT_BATCH_TOO_LARGE } from "./errors.ts";
import { eventsUrl } from "./events-url.ts";
import type { EventType, OutgoingEvent, SendResult } from "./outgoing-event.ts";
import { PalisadeClientError } from "./palisade-client-error.ts";
import { postEvents, type Transport } from "./post-events.ts";

/** Most events the gateway takes in one batch request (its `MAX_BATCH`). */
export const MAX_BATCH = 1000;
/** Retries after the first attempt. */
export const DEFAULT_RETRIES = 3;
/** Time one attempt may take, answer included. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** `source` of events that name none. */
export const DEFAULT_SOURCE = "/palisade-client";

const STRUCTURED = "application/cloudevents+json; charset=utf-8";
const BATCH = "application/cloudevents-batch+json; charset=utf-8";

/** Options of `createClient`. */
export interface ClientOptions {
  /** The gateway (`https://palisade.example`, posting to `/events`) or its intake URL. */
  readonly url: string | URL;
  /** A principal's API key, sent as `Authorization: Bearer`. */
  readonly apiKey?: string;
  /** A JWT, or a function giving one; called before every attempt, so a refreshed token is used. */
  readonly token?: string | (() => string | Promise<string>);
  /** Signs every event (CloudEvents verifiability extension) with this key. */
  readonly signingKey?: EventSigningKey;
  /** Extension attributes to sign when an event carries them. @default every extension of the event */
  readonly signedExtensions?: readonly string[];
  /** @default DEFAULT_SOURCE */
  readonly source?: string;
  /** @default DEFAULT_RETRIES */
  readonly retries?: number;
  /** @default DEFAULT_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** Sends events to a Palisade gateway. */
export interface PalisadeClient {
  /** Sends one event (structured mode); resolves to the gateway's `202` answer. */
  send<K extends EventType>(event: OutgoingEvent<K>): Promise<SendResult>;
  /** Sends up to `MAX_BATCH` events in one request (batch mode): all are stored, or none. */
  sendBatch<const K extends readonly EventType[]>(
    events: readonly [...{ [I in keyof K]: OutgoingEvent<K[I]> }],
  ): Promise<SendResult>;
}

/**
 * A producer client for Palisade's CloudEvents intake: fills ids, signs when given a key, retries
 * with the same ids, and rejects with a `PalisadeClientError` naming the gateway's code.
 */
export function createClient(options: ClientOptions): PalisadeClient {
  const transport = transportOf(options);
  const encoding: EncodeOptions = {
    source: options.source ?? DEFAULT_SOURCE,
    signingKey: options.signingKey,
    signedExtensions: signedExtensionsOf(options.signedExtensions),
  };
  if (options.signingKey !== undefined) checkSigningKey(options.signingKey);
  return {
    // async: a refusal found before sending rejects the promise, as the gateway's do.
    async send(event) {
      const encoded = encodeEvent(event as OutgoingEvent, encoding);
      return postEvents(transport, { contentType: STRUCTURED, body: encoded.text, ids: [encoded.id] });
    },
    async sendBatch(events) {
      const list = events as readonly OutgoingEvent[];
      if (list.length > MAX_BATCH)
        throw new PalisadeClientError(
          CLIENT_BATCH_TOO_LARGE,
          `Cannot send a batch of ${list.length} events: the gateway takes at most ${MAX_BATCH} per request; split it`,
          { status: 0 },
        );
      if (list.length === 0) return { ids: [] };
      const encoded = list.map((e) => encodeEvent(e, encoding));
      const body = `[${encoded.map((e) => e.text).join(",")}]`;
      return postEvents(transport, { contentType: BATCH, body, ids: encoded.map((e) => e.id) });
    },
  };
}

function transportOf(options: ClientOptions): Transport {
  if (options.apiKey !== undefined && options.token !== undefined)
    throw badOptions("apiKey and token are both set; a request carries one credential, pass one of them");
  if (options.apiKey !== undefined && !/^[\x21-\x7e]+$/.test(options.apiKey))
    throw badOptions("apiKey is empty or has spaces or control characters");
  const token = options.token;
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!Number.isSafeInteger(retries) || retries < 0)
    throw badOptions(`retries must be a whole number ≥ 0, not ${retries}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw badOptions(`timeoutMs must be a whole number of ms > 0, not ${timeoutMs}`);
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== "function") throw badOptions("no fetch: this runtime has no global fetch; pass one");
  return {
    url: eventsUrl(options.url, options.apiKey !== undefined || token !== undefined),
    apiKey: options.apiKey,
    token: typeof token === "string" ? () => token : token,
    retries,
    timeoutMs,
    fetch: fetchFn,
  };
}

function signedExtensionsOf(names: readonly string[] | undefined): readonly string[] | undefined {
  if (names === undefined) return undefined;
  const seen = new Set<string>();
  for (const name of names) {
    if (CORE_NAMES.has(name) || VERIFIABILITY_ATTRIBUTES.has(name))
      throw badOptions(`signedExtensions lists "${name}", which is not an extension attribute one may sign`);
    if (seen.has(name)) throw badOptions(`signedExtensions lists "${name}" twice`);
    seen.add(name);
  }
  return [...names];
}

// One signature now, so an unusable key (public, RSA, another curve, no key id) fails here, not at a send.
function checkSigningKey(key: EventSigningKey): void {
  try {
    signEvent(
      { attributes: { specversion: "1.0", id: "-", source: "-", type: "-" }, data: new Uint8Array() },
      key,
    );
  } catch (err) {
    throw badOptions(`signingKey cannot sign: ${(err as Error).message}`);
  }
}

function badOptions(message: string): PalisadeClientError {
  return new PalisadeClientError(CLIENT_BAD_OPTIONS, `Cannot create a Palisade client: ${message}`, {
    status: 0,
  });
}
