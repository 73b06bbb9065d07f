export { type Authorizer, createAuthorizer } from "./create-authorizer.ts";
export {
  SECURITY_CONFLICT,
  SECURITY_FORBIDDEN,
  SECURITY_KEY_IN_USE,
  SECURITY_KEY_MISSING,
  SECURITY_KEYRING,
  SECURITY_ROLLBACK,
  SECURITY_SEAL_BROKEN,
  SECURITY_SECRET_MISSING,
  SECURITY_SECRET_NAME,
} from "./errors.ts";
export {
  EVENT_KEY_FILE,
  EVENT_TRUST_DIR,
  type EventKey,
  ensureEventKey,
  eventKeyId,
  eventKeysJwks,
  loadEventTrust,
  rotateEventKey,
} from "./event-key.ts";
export {
  type KeyRing,
  type KeyRingOptions,
  LEASE_MS,
  type MasterKeyProvider,
  openKeyRing,
  SEAL_LIMIT,
  type Sealer,
  versionOf,
} from "./key-ring.ts";
export { localMasterKey } from "./local-master-key.ts";
export { type KeyBucketNames, type KeyBuckets, LEASE_TTL_MS, openKeyBuckets } from "./nats-key-buckets.ts";
export {
  type KeyVersion,
  openNatsKeyRing,
  type SharedKeyRing,
  type SharedKeyRingOptions,
} from "./nats-key-ring.ts";
export {
  openNatsSecretStore,
  SECRETS_MARK_FILE,
  type SharedSecretStore,
  type SharedSecretStoreOptions,
} from "./nats-secret-store.ts";
export { openNatsUsageStore } from "./nats-usage-store.ts";
export {
  openFileSecretStore,
  requireSecret,
  SECRET_NAME,
  type SecretReader,
  type SecretStore,
  type SecretStoreOptions,
} from "./secret-store.ts";
export { type CapabilityKind, mergeUsage, type UsageRow, type UsageStore } from "./usage-rows.ts";
export { openUsageStore, USAGE_FLUSH_MS } from "./usage-store.ts";
