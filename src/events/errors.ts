/** Error codes of the events domain. */
export const EVENT_INVALID = "PAL_EVENT_INVALID";
export const EVENT_HOP_LIMIT = "PAL_EVENT_HOP_LIMIT";
export const EVENT_UNSUPPORTED_MEDIA = "PAL_EVENT_UNSUPPORTED_MEDIA";
