export { emitCycles, runnersOf, stronglyConnected, worstCaseAmplification } from "./amplification.ts";
export {
  ADMIN_ROLES,
  type AdminRole,
  type AdminSpec,
  type AmplificationPolicy,
  type ApiKeyAuth,
  type AppModel,
  type CostDriftPolicy,
  type CredentialStuffingPolicy,
  DEFAULT_DEDUPE_WINDOW_SEC,
  DEFAULT_DETECT,
  DEFAULT_JWT_ALGORITHMS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PRICES,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RETRY,
  DEFAULT_SOURCES,
  type DeniedBurstPolicy,
  type DetectPolicy,
  type EgressRule,
  type EventTypeSpec,
  type FunctionSpec,
  type IngressFloodPolicy,
  type JwtAuth,
  type KvMode,
  type Limits,
  LOCAL_ADMIN_SECRET,
  type MtlsAuth,
  NO_GRANTS,
  type NoveltyPolicy,
  type OutliersPolicy,
  type Prices,
  type PrincipalSpec,
  type RateLimit,
  type RetryPolicy,
  type SourceSpec,
  type TlsSpec,
  type Waiver,
} from "./app-model.ts";
export { editGrants, type GrantEdit, type GrantKind } from "./edit-grants.ts";
export { parseEgressGrant } from "./egress-grant.ts";
export { MANIFEST_EDIT_REFUSED, MANIFEST_INVALID, MANIFEST_NOT_FOUND } from "./errors.ts";
export { loadApp, MANIFEST_FILE } from "./load-app.ts";
export { formatPath, type ManifestPath } from "./problem.ts";
export { type LocatedDocument, readLocated } from "./read-located.ts";
