export { retryDelay } from "./backoff.ts";
export {
  createDispatcher,
  type Dispatcher,
  type DispatcherOptions,
  type DispatchHold,
  type Target,
  type Verdict,
} from "./dispatcher.ts";
export { BUS_CLOSED, BUS_DELIVERY_STATE_TAMPERED, BUS_STORAGE, BUS_UNAVAILABLE } from "./errors.ts";
export type {
  Appended,
  DeadLetter,
  DeadLetterReason,
  Delivery,
  DeliveryRef,
  DeliveryState,
  Outcome,
  PastDelivery,
  RecordSealer,
  RefusedDelivery,
  Replay,
  StoredEvent,
} from "./event-log.ts";
export { REFUSAL_REASONS } from "./event-log.ts";
export {
  type AuditStream,
  type AuditStreamMessage,
  type AuditStreamState,
  openAuditStream,
} from "./nats/audit-stream.ts";
export { type ConnectNatsOptions, connectNats, type NatsLink, type NatsLogger } from "./nats/connect.ts";
export {
  NATS_AUTH,
  NATS_CA_MISSING,
  NATS_CAS_UNSAFE,
  NATS_CREDS_INVALID,
  NATS_MONITOR,
  NATS_NO_JETSTREAM,
  NATS_NOT_DURABLE,
  NATS_REPLICAS_INVALID,
  NATS_TLS,
  NATS_UNREACHABLE,
  NATS_URL_INVALID,
  NATS_USAGE_CODES,
} from "./nats/connect-errors.ts";
export {
  assertCasSafe,
  assertDurable,
  type DurabilityMode,
  durabilityOf,
  resolveReplicas,
} from "./nats/durability.ts";
export { type NatsNames, natsNames } from "./nats/names.ts";
export { type NatsDeployment, openNatsDeployment } from "./nats/nats-deployment.ts";
export { type NatsFlags, type NatsOptions, natsOptionsFrom } from "./nats/nats-options.ts";
export {
  DEFAULT_ACK_WAIT_MS,
  type NatsRawStore,
  type NatsRawStoreOptions,
  openNatsRawStore,
} from "./nats/nats-raw-store.ts";
export { redactUrl, redactUrls } from "./nats/redact-url.ts";
export { createScheduler, type Schedule, type SchedulerOptions, ticksBetween } from "./scheduler.ts";
export { type Accepts, createSealing, type Sealing } from "./sealed-store.ts";
export {
  openSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
} from "./sqlite/open-sqlite-store.ts";
export { SCHEMA_SQL as SQLITE_SCHEMA_SQL, SQLITE_PRAGMAS } from "./sqlite/schema-sql.ts";
export {
  DEFAULT_DEDUPE_WINDOW_MS,
  openSqliteRawStore,
  type SqliteRawStore,
  type SqliteRawStoreOptions,
} from "./sqlite/sqlite-store.ts";
export {
  type DeliveryQueue,
  type Durability,
  type EventStore,
  errorRecordOf,
  eventRecordOf,
  type Maintenance,
  type RawDelivery,
  type RawEvent,
  type RawStore,
  type RawStoredEvent,
  type RawStoreOptions,
  type Reseal,
  type SharedState,
  type Store,
  type Subscription,
} from "./store.ts";
