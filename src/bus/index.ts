export { retryDelay } from "./backoff.ts";
export { createDispatcher, type Dispatcher, type DispatcherOptions, type Target } from "./dispatcher.ts";
export { BUS_CLOSED, BUS_DELIVERY_STATE_TAMPERED, BUS_STORAGE } from "./errors.ts";
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
export { createScheduler, type Schedule, type SchedulerOptions, ticksBetween } from "./scheduler.ts";
export { type Accepts, createSealing, type Sealing } from "./sealed-store.ts";
export {
  openSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
} from "./sqlite/open-sqlite-store.ts";
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
