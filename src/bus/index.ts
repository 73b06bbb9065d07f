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
  EventLog,
  Outcome,
  PastDelivery,
  RecordSealer,
  RefusedDelivery,
  Replay,
  StoredEvent,
} from "./event-log.ts";
export { REFUSAL_REASONS } from "./event-log.ts";
export { createScheduler, type Schedule, type SchedulerOptions, ticksBetween } from "./scheduler.ts";
export {
  DEFAULT_DEDUPE_WINDOW_MS,
  openSqliteEventLog,
  type SqliteEventLog,
} from "./sqlite/sqlite-event-log.ts";
