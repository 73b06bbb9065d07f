export { type CloudEvent, MAX_HOP, RESERVED_EXTENSIONS } from "./cloud-event.ts";
export { createEvent, type EventDraft, type EventOrigin } from "./create-event.ts";
export { EVENT_HOP_LIMIT, EVENT_INVALID } from "./errors.ts";
export { parseEvent } from "./parse-event.ts";
export { nextTraceparent } from "./trace-context.ts";
