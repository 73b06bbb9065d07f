/** Error codes of the bus domain. */
export const BUS_CLOSED = "PAL_BUS_CLOSED";
export const BUS_STORAGE = "PAL_BUS_STORAGE";
/** An event log's delivery rows lost the authentication codes its marker file says they had. */
export const BUS_DELIVERY_STATE_TAMPERED = "PAL_BUS_DELIVERY_STATE_TAMPERED";
/** The distributed store is unreachable for now: a 503 with Retry-After; nothing was stored. */
export const BUS_UNAVAILABLE = "PAL_BUS_UNAVAILABLE";
