/** Error codes of the kv domain. */
/** A write would take a namespace over its byte quota. */
export const KV_QUOTA_EXCEEDED = "PAL_KV_QUOTA_EXCEEDED";
/** The store was closed (the platform is stopping); the write did not happen. */
export const KV_CLOSED = "PAL_KV_CLOSED";
/** kv.db no longer matches its sealed digest: values were removed, added or put back to older copies. */
export const KV_ROLLED_BACK = "PAL_KV_ROLLED_BACK";
