/** Error codes of the schema domain. */
export const SCHEMA_INVALID_DATA = "PAL_SCHEMA_INVALID_DATA";
export const SCHEMA_UNKNOWN_TYPE = "PAL_SCHEMA_UNKNOWN_TYPE";
export const SCHEMA_BAD_SCHEMA = "PAL_SCHEMA_BAD_SCHEMA";
