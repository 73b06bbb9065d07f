import type { CloudEvent } from "../events/index.ts";

/** An event as the store holds it: its position and its envelope. */
export interface StoredEvent {
  readonly seq: number;
  readonly event: CloudEvent;
  /** When the store accepted it (ms since the epoch). */
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
  | "not-subscribed"
  /** A sink's receiver refused the event with a status no retry can cure (4xx, or a redirect). */
  | "sink-rejected"
  /** Held while its function was quarantined, then discarded by an operator (`palisade quarantine discard`). */
  | "quarantined";

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
  /**
   * Whether the data key of `version` is here now. A key ring several nodes share may not have seen a
   * version another node just added; the store then calls `refresh` before refusing the record.
   */
  knows?(version: number): boolean;
  /** Re-reads a shared key ring (see `knows`). */
  refresh?(): Promise<void>;
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
