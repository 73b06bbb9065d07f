import type { CloudEvent } from "../events/index.ts";

/** An event as the log holds it: its position and its envelope. */
export interface StoredEvent {
  readonly seq: number;
  readonly event: CloudEvent;
  /** When the log accepted it (ms since the epoch). */
  readonly acceptedAt: number;
}

/** One event owed to one target (a function), with how often it has been tried. */
export interface Delivery {
  readonly seq: number;
  readonly target: string;
  readonly attempts: number;
  readonly event: CloudEvent;
  /** Set when this delivery was replayed: who asked, and when. */
  readonly replay?: Replay;
}

/** Which delivery an outcome is for: what logs, metrics and the audit name it by. */
export interface DeliveryRef {
  readonly seq: number;
  readonly target: string;
  readonly attempts: number;
  readonly eventId: string;
  readonly type: string;
}

/**
 * A pending delivery the log cannot vouch for (its event record does not open, or its row is not
 * the one the platform wrote): it is never invoked, only dead-lettered with `reason`. `eventId` and
 * `type` are what the stored row claims, for the record only.
 */
export interface RefusedDelivery extends DeliveryRef {
  readonly refused: { readonly reason: DeadLetterReason; readonly error: string };
}

/** Provenance of a replayed delivery. */
export interface Replay {
  readonly by: string;
  readonly at: number;
}

/** How an attempt ended; `retry` and `failed` carry the reason. */
export type Outcome =
  | { readonly kind: "delivered" }
  | { readonly kind: "retry"; readonly at: number; readonly error: string }
  | { readonly kind: "failed"; readonly reason: DeadLetterReason; readonly error: string };

/** Why a delivery was dead-lettered. */
export type DeadLetterReason =
  | "attempts-exhausted"
  | "hop-limit"
  | "denied"
  | "limit-exceeded"
  | "load-failed"
  | "replay-refused"
  /** The stored event record does not open (changed on disk, or a key is missing): never invoked. */
  | "corrupt"
  /** The delivery row is not one the platform wrote (its authentication code is missing or wrong). */
  | "unauthenticated"
  /** At invoke time the function no longer subscribes to the event's type, or its filter rejects it. */
  | "not-subscribed";

/** The reasons the platform refuses to run a delivery it cannot trust (never an attempt). */
export const REFUSAL_REASONS: ReadonlySet<DeadLetterReason> = new Set([
  "corrupt",
  "unauthenticated",
  "not-subscribed",
]);

/** A dead-lettered delivery, as `palisade dlq list` shows it. */
export interface DeadLetter {
  readonly seq: number;
  readonly eventId: string;
  readonly type: string;
  readonly target: string;
  readonly attempts: number;
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly at: number;
}

/** The visible state of one event for one target (DESIGN invariant 3). */
export interface DeliveryState {
  readonly target: string;
  readonly state: "pending" | "delivered" | "failed";
  readonly attempts: number;
  readonly lastError: string | null;
}

/** An earlier outcome of a delivery, kept when a replay or a DLQ replay started it over. */
export interface PastDelivery {
  readonly target: string;
  readonly state: "pending" | "delivered" | "failed";
  readonly attempts: number;
  readonly lastError: string | null;
  readonly reason: DeadLetterReason | null;
  /** When this outcome was recorded (ms). */
  readonly at: number;
  /** When the replay replaced it (ms). */
  readonly supersededAt: number;
}

/**
 * Encrypts what a backend stores at rest (event bodies, delivery errors), each bound to its record;
 * the key ring (security/) implements it and main wires it in.
 */
export interface RecordSealer {
  seal(plaintext: string, record: string): string;
  open(sealed: string, record: string): string;
  /** Data key version of a sealed text (0 for plaintext). */
  versionOf(sealed: string): number;
  activeVersion(): number;
  /**
   * Authentication code of `text` under a key only the platform holds; delivery rows carry one. A
   * sealer without it (plaintext logs of tests and the benchmark) leaves rows unauthenticated.
   */
  mac?(text: string): string;
}

/**
 * Result of appending one event: its id and whether it was new (same principal, source and id as an
 * event inside the dedupe window = duplicate).
 */
export interface Appended {
  readonly id: string;
  readonly seq: number;
  readonly duplicate: boolean;
}

/**
 * The durable event log and per-target delivery state. The embedded backend is SQLite; a NATS
 * JetStream backend (a later issue) is to implement the same interface. Every write is durable once
 * its promise resolves.
 */
export interface EventLog {
  /**
   * Appends events durably; an event with the `principal`, `source` and `id` of one accepted within
   * the dedupe window is reported as a duplicate and not stored again. Dedupe is scoped to the
   * `principal` (the authenticated origin, which only the platform sets) because `source` and `id`
   * are sender-chosen: nobody can occupy another origin's ids.
   */
  append(events: readonly CloudEvent[]): Promise<Appended[]>;
  /** Events after position `seq`, oldest first. */
  readAfter(seq: number, limit: number): Promise<StoredEvent[]>;
  /**
   * Positions and types of events after `seq`, oldest first: what routing needs. With `payloads`,
   * each event's envelope too, left out for a record that does not open (it does not stop the rest).
   */
  typesAfter(
    seq: number,
    limit: number,
    payloads?: boolean,
  ): Promise<{ seq: number; type: string; event?: CloudEvent }[]>;
  /** Position up to which the named reader has routed events (0 before the first). */
  cursor(name: string): Promise<number>;
  /** Sets a named cursor (a position, or a time in ms for schedules) durably. */
  setCursor(name: string, value: number): Promise<void>;
  /** Records pending deliveries and advances the named cursor to `upTo`, atomically. */
  route(name: string, upTo: number, deliveries: readonly { seq: number; target: string }[]): Promise<void>;
  /**
   * Pending deliveries of `target` due at `now`, oldest first. One whose record does not open or
   * whose row does not authenticate comes back refused, without its event; it does not stop the rest.
   */
  due(target: string, now: number, limit: number): Promise<(Delivery | RefusedDelivery)[]>;
  /** Earliest time any pending delivery is due, or undefined when none is pending. */
  nextDue(): Promise<number | undefined>;
  /** Records the outcome of one attempt. */
  settle(seq: number, target: string, outcome: Outcome): Promise<void>;
  /**
   * Removes events accepted before `beforeMs` whose deliveries are all finished (delivered or
   * dead-lettered), with those deliveries; pending work is never removed. Returns how many.
   */
  prune(beforeMs: number): Promise<number>;
  /** The dead-letter queue, newest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /**
   * Replays one event to one target: its delivery (new, or the finished one) becomes pending again
   * with attempts reset and the replay's provenance; or, when `refused`, it is dead-lettered with
   * reason `replay-refused`. A finished delivery's outcome is kept in its history.
   */
  replay(seq: number, target: string, replay: Replay, refused?: string): Promise<void>;
  /**
   * Moves a dead letter back to pending, due now, with its attempts reset, keeping the dead letter in
   * the delivery's history. False if it is not dead.
   */
  requeue(seq: number, target: string): Promise<boolean>;
  /** Delivery state of an event (by id) for every target it was routed to. */
  deliveries(eventId: string): Promise<DeliveryState[]>;
  /** Earlier outcomes of an event's deliveries that replays started over, oldest first. */
  history(eventId: string): Promise<PastDelivery[]>;
  /**
   * Re-seals up to `limit` stored records (event bodies, delivery errors) that are not sealed with
   * the active data key, in one write; resolves to how many. 0 means none are left.
   */
  reencrypt(limit: number): Promise<number>;
  /** How many stored records each data key version seals (0: plaintext). */
  sealedVersions(): Promise<Map<number, number>>;
  /** Deliveries waiting for an attempt, and dead-lettered ones. */
  stateCounts(): Promise<{ pending: number; failed: number }>;
  close(): Promise<void>;
}
