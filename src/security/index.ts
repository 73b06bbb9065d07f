export { type Authorizer, createAuthorizer } from "./create-authorizer.ts";
export { SECURITY_FORBIDDEN, SECURITY_SECRET_MISSING, SECURITY_SECRET_NAME } from "./errors.ts";
export { openFileSecretStore, requireSecret, SECRET_NAME, type SecretStore } from "./secret-store.ts";
export { type CapabilityKind, openUsageStore, type UsageRow, type UsageStore } from "./usage-store.ts";
