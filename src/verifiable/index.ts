export {
  EVENT_KEY_INVALID,
  type LoadedSigningKey,
  loadSigningKey,
  loadVerifyingKeys,
  type VerifyingKeysSpec,
} from "./event-signing-keys.ts";
export { type DataSpan, dataSpans } from "./json-data-span.ts";
export { normalizeTime } from "./normalize-time.ts";
export {
  type AttributeValue,
  CORE_ATTRIBUTES,
  type DiscardReason,
  EVENT_SIGNING_KEY,
  EVENT_SIGNING_REFUSED,
  type EventSigningKey,
  signEvent,
  VERIFIABILITY_PAYLOAD_TYPE,
  type VerifiableEvent,
  type VerifyResult,
  verifyEvent,
} from "./verifiability.ts";
