export { KV_ROLLED_BACK } from "./errors.ts";
export {
  KV_MAX_KEY_BYTES,
  KV_MAX_LIST,
  KV_MAX_VALUE_BYTES,
  type KvListOptions,
  type KvPage,
  type KvStore,
  type ValueSealer,
} from "./kv-store.ts";
export { openSqliteKvStore } from "./sqlite-kv-store.ts";
