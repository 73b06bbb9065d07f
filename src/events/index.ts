export type { EventSigningKey } from "../verifiable/index.ts";
export { checkHeaderCopies } from "./check-header-copies.ts";
export { type CloudEvent, JSON_MEDIA_TYPE, MAX_HOP, RESERVED_EXTENSIONS } from "./cloud-event.ts";
export { compileFilter, type EventFilter, type FilterProblem, matchesTypePattern } from "./compile-filter.ts";
export {
  BATCH_MEDIA_TYPE,
  type ContentMode,
  contentMode,
  STRUCTURED_MEDIA_TYPE,
} from "./content-mode.ts";
export { createEvent, dataBytes, type EventDraft, type EventOrigin, rootOf } from "./create-event.ts";
export { EVENT_HOP_LIMIT, EVENT_INVALID, EVENT_UNSUPPORTED_MEDIA } from "./errors.ts";
export { type DataKind, dataKind } from "./media-type.ts";
export { decodeHeader, parseBinary } from "./parse-binary.ts";
export { MAX_BATCH, parseBatch, parseEvent } from "./parse-event.ts";
export {
  isReservedSource,
  PLATFORM_EVENT_TYPES,
  PLATFORM_PRINCIPAL,
  PLATFORM_SOURCE,
  RESERVED_SOURCE_SCHEMES,
} from "./platform-events.ts";
export {
  type EventTraceContext,
  nextTraceparent,
  traceContextOf,
  withTraceContext,
} from "./trace-context.ts";
export { dataBytesOf, signWireForm, type WireEvent, wireFormOf } from "./wire-form.ts";
