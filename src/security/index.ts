export { type Authorizer, createAuthorizer } from "./create-authorizer.ts";
export {
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
export {
  openFileSecretStore,
  requireSecret,
  SECRET_NAME,
  type SecretStore,
  type SecretStoreOptions,
} from "./secret-store.ts";
export { type CapabilityKind, openUsageStore, type UsageRow, type UsageStore } from "./usage-store.ts";
