/** Error codes of the kv domain. */
/** kv.db no longer matches its sealed digest: values were removed, added or put back to older copies. */
export const KV_ROLLED_BACK = "PAL_KV_ROLLED_BACK";
