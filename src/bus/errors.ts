/** Error codes of the bus domain. */
export const BUS_CLOSED = "PAL_BUS_CLOSED";
export const BUS_STORAGE = "PAL_BUS_STORAGE";
