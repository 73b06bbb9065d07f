export { KV_CLOSED, KV_QUOTA_EXCEEDED, KV_ROLLED_BACK } from "./errors.ts";
export {
  KV_MAX_KEY_BYTES,
  KV_MAX_LIST,
  KV_MAX_VALUE_BYTES,
  type KvListOptions,
  type KvPage,
  type KvSetOptions,
  type KvStore,
  type ValueSealer,
} from "./kv-store.ts";
export { openSqliteKvStore } from "./sqlite-kv-store.ts";
