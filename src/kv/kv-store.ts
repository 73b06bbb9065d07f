/**
 * The key-value store behind `ctx.kv`: namespaces of string keys holding JSON values. The capability
 * host checks grants and validates arguments before a call reaches a store, so a store trusts its
 * caller. The embedded backend is SQLite (sqlite-kv-store.ts); a NATS KV backend can implement the
 * same interface.
 */
export interface KvStore {
  /** The value, or undefined when the key is absent. */
  get(namespace: string, key: string): Promise<unknown>;
  /**
   * Stores `value` durably (resolves after the commit). With `maxNamespaceBytes`, a write that would
   * take the namespace (keys plus values as stored) over it is refused with KV_QUOTA_EXCEEDED.
   */
  set(namespace: string, key: string, value: unknown, options?: KvSetOptions): Promise<void>;
  /** True when a key was removed. */
  delete(namespace: string, key: string): Promise<boolean>;
  /** Keys in order, starting after `after`, optionally only those with `prefix`; `next` pages on. */
  list(namespace: string, options: KvListOptions): Promise<KvPage>;
  /** Re-seals up to `limit` values not sealed with the active data key; resolves to how many. */
  reencrypt(limit: number): Promise<number>;
  /** How many values each data key version seals (0: plaintext). */
  sealedVersions(): Promise<Map<number, number>>;
  /** Commits and writes so far: concurrent writes share commits (one fsync each). */
  writeStats(): { readonly commits: number; readonly writes: number };
  close(): Promise<void>;
}

export interface KvSetOptions {
  /** Most bytes the namespace may hold after this write. @default unlimited */
  maxNamespaceBytes?: number;
}

/** Encrypts values at rest, bound to their namespace and key (the key ring implements it). */
export interface ValueSealer {
  seal(plaintext: string, record: string): string;
  open(sealed: string, record: string): string;
  activeVersion(): number;
}

export interface KvListOptions {
  prefix?: string;
  after?: string;
  limit: number;
}

export interface KvPage {
  keys: string[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/** Longest key, in UTF-8 bytes. */
export const KV_MAX_KEY_BYTES = 512;
/** Largest value, as JSON in UTF-8 bytes. */
export const KV_MAX_VALUE_BYTES = 256 * 1024;
/** Most keys one list call returns. */
export const KV_MAX_LIST = 1000;
