/**
 * `palisade/client`: a small producer SDK for Palisade's CloudEvents intake (`POST /events`). It
 * sends one event (structured mode) or a batch, with a principal's API key or a JWT, optionally
 * signed (CloudEvents verifiability extension), and retries with the same event ids.
 *
 * Threat model: the credential is the principal's; it goes only to the configured origin, over
 * HTTPS or plain HTTP to loopback, never after a redirect. Retries resend identical bytes, so the
 * gateway's dedupe (same principal, source and id) stores an event once however often a lost
 * answer makes the client resend it. A signature lets consumers check who produced the event and
 * that nothing changed it on the way; it does not hide the event (no confidentiality) and does not
 * stop a holder of the private key from signing anything. Runs on Node ≥ 20 with node:crypto and
 * the global fetch only.
 */

export type { EventSigningKey } from "../verifiable/index.ts";
export {
  type ClientOptions,
  createClient,
  DEFAULT_RETRIES,
  DEFAULT_SOURCE,
  DEFAULT_TIMEOUT_MS,
  MAX_BATCH,
  type PalisadeClient,
} from "./create-client.ts";
export {
  CLIENT_BAD_OPTIONS,
  CLIENT_BAD_RESPONSE,
  CLIENT_BATCH_TOO_LARGE,
  CLIENT_INSECURE_URL,
  CLIENT_INVALID_EVENT,
  CLIENT_NO_TOKEN,
  CLIENT_UNREACHABLE,
} from "./errors.ts";
export type {
  EventType,
  ExtensionValue,
  OutgoingAttributes,
  OutgoingData,
  OutgoingEvent,
  SendResult,
} from "./outgoing-event.ts";
export { type ClientErrorInit, PalisadeClientError } from "./palisade-client-error.ts";
export { MAX_RETRY_AFTER_MS } from "./retry-delay.ts";
