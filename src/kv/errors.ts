/** Error codes of the kv domain. */
/** A write would take a namespace over its byte quota. */
export const KV_QUOTA_EXCEEDED = "PAL_KV_QUOTA_EXCEEDED";
