/**
 * Admin: what operators see and do, as service functions that return data. The CLI prints what
 * they return; the admin API (`/admin/v1/...`) serves the same as JSON to admins (`admins:` in the
 * manifest), by role; the dashboard at `/ui/` is a page over that API.
 */

export {
  type AdminAuth,
  type Caller,
  CSRF_HEADER,
  createAdminAuth,
  requireRole,
  SESSION_COOKIE,
} from "./admin-auth.ts";
export { type AdminRoutesOptions, instant, registerAdminRoutes, SECURITY_HEADERS } from "./admin-routes.ts";
export {
  type Actor,
  type AdminService,
  type AdminSources,
  createAdminService,
  type SecretStatus,
  type TraceSummary,
} from "./admin-service.ts";
export {
  type AuditVerdict,
  type AuditView,
  anchorsFor,
  fileAuditView,
  natsAuditView,
  verifyFileAudit,
} from "./audit-view.ts";
export {
  ADMIN_BAD_REQUEST,
  ADMIN_CONFLICT,
  ADMIN_CSRF,
  ADMIN_FORBIDDEN,
  ADMIN_NOT_FOUND,
  ADMIN_UNAUTHENTICATED,
  ADMIN_UNAVAILABLE,
} from "./errors.ts";
export { createStreamHub, MAX_STREAMS, type StreamHub, type StreamItem } from "./event-stream.ts";
export {
  type EventDetail,
  type EventFilter,
  type EventSummary,
  type EventsPage,
  getEvent,
  listEvents,
  PAGE_MAX,
  traceIdOf,
} from "./events-view.ts";
export {
  type BundleStatus,
  egressTarget,
  type FunctionPermissions,
  type FunctionRuntime,
  type FunctionStatus,
  functionStatuses,
  type GrantUse,
  permissionsOf,
} from "./functions-view.ts";
export { type KeysStatus, keysStatusOf, type SealedCounts } from "./keys-view.ts";
export { type MetricsSummary, summarizeMetrics } from "./metrics-summary.ts";
export {
  capabilityHoldScope,
  discardCapabilityWaits,
  HELD_SCAN,
  HOLD_AUDIT_KIND,
  type HoldResult,
  type HoldTarget,
  heldOf,
  imposeHold,
  liftHold,
  listQuarantine,
  NATS_HELD,
  onNats,
  type QuarantineEntry,
  RELEASE_AUDIT_KIND,
  refOf,
  releaseChain,
} from "./quarantine-view.ts";
export {
  type ArchiveReplayResult,
  type ArchiveSelection,
  type DlqReplayResult,
  type DlqSelection,
  dlqReplayDetails,
  type ReplayRefusal,
  replayArchive,
  replayDeadLetters,
} from "./replay.ts";
export { currentRegistry, whyNot } from "./replay-check.ts";
export { ABSOLUTE_MS, createSessions, IDLE_MS, type Session, type Sessions } from "./sessions.ts";
export { uiAssets } from "./ui-assets.ts";
