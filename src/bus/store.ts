/**
 * The storage seam. A running app sees a `Store`: an event store (append with dedupe, read back), a
 * delivery queue per target (take due work, settle, retry later, dead-letter, replay, requeue,
 * history), small shared state (cursors, counters, leases) and maintenance. `openStore`
 * (src/open-store.ts) picks the backend: SQLite files on one machine, or NATS JetStream shared by many.
 *
 * A backend implements `RawStore`: the same roles over opaque bodies. Encryption at rest is the
 * wrapper between the two (sealed-store.ts): a backend, the disk and the broker only ever hold
 * ciphertext, and a body that does not open is refused above the backend, the same way for both.
 */
import type { CloudEvent, EventFilter } from "../events/index.ts";
import type {
  Appended,
  DeadLetter,
  DeadLetterReason,
  Delivery,
  DeliveryRef,
  DeliveryState,
  Outcome,
  PastDelivery,
  RefusedDelivery,
  Replay,
  StoredEvent,
} from "./event-log.ts";

/** Wakes a dispatcher: `targets` may have new work (undefined: any target may). */
export type Wake = (targets?: readonly string[]) => void;

/** Who receives which events: a target (a function), its types (`a.b` or `a.*`) and content filter. */
export interface Subscription {
  readonly name: string;
  readonly on: readonly string[];
  readonly filter?: EventFilter;
}

/** Durable events: append (deduped on principal, source and id within the window) and read back. */
export interface EventStore {
  /** Appends events durably, all or none; resolves once the backend has them durably (see `durability`). */
  append(events: readonly CloudEvent[]): Promise<Appended[]>;
  /**
   * Events after position `after`, oldest first (`limit` stored records are looked at); a record that
   * does not open is left out, and reported to `skipped` when given.
   */
  read(after: number, limit: number, skipped?: (seq: number, error: string) => void): Promise<StoredEvent[]>;
  /** Stored events with this id (one per principal and source that used it), oldest first. */
  find(eventId: string): Promise<StoredEvent[]>;
  /** The position of the newest stored event; 0 when none is (for reading newest first). */
  latest(): Promise<number>;
  /** The position of the oldest stored event (older ones were pruned); 0 when none is. */
  earliest(): Promise<number>;
}

/** Work owed to targets, one queue per target. */
export interface DeliveryQueue {
  /**
   * Up to `limit` deliveries of `target` due now, oldest first, each claimed until it is settled (a
   * backend that leases work gives a claim back after its lease, so a dead worker's work runs
   * elsewhere). A delivery whose record does not open or whose routing is not the platform's comes
   * back refused, without its event, to be dead-lettered, never invoked.
   */
  take(target: string, limit: number): Promise<(Delivery | RefusedDelivery)[]>;
  /**
   * True when fewer than `limit` from `take` means nothing else is due for the target, and stays so
   * until `watch` or `nextDue` says otherwise (a local log, where
   * every change goes through this process or is caught by the poll): the dispatcher then does not
   * ask again after every finished attempt. A backend whose work arrives on its own (JetStream
   * redeliveries after a lease, a leader failover) leaves it unset and is asked every time.
   */
  readonly shortTakeHolds?: boolean;
  /** Records the outcome of one attempt (or of a refusal): delivered, retry at a time, or dead-lettered. */
  settle(delivery: DeliveryRef, outcome: Outcome): Promise<void>;
  /**
   * Gives a taken delivery back unattempted: it stays pending as it was (attempts unchanged) and a
   * later `take` hands it out again (a held target's prefetched work goes back to the store).
   */
  giveBack(delivery: DeliveryRef): void;
  /** Earliest time any pending delivery is due; undefined when none is, or when the backend pushes (`watch`). */
  nextDue(): Promise<number | undefined>;
  /**
   * Calls `wake` whenever new work may be waiting (appended here or elsewhere), with the targets
   * that may have it when the backend knows them (undefined: any target). Returns how to stop.
   */
  watch(wake: Wake): () => void;
  /** The dead-letter queue, newest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /**
   * Replays one stored event to one target: it becomes pending again with attempts reset and the
   * replay's provenance; or, when `refused`, it is dead-lettered with reason `replay-refused`. A
   * finished delivery's outcome is kept in its history.
   */
  replay(seq: number, target: string, replay: Replay, refused?: string): Promise<void>;
  /** Moves a dead letter back to pending, due now, attempts reset, keeping it in history. False if not dead. */
  requeue(seq: number, target: string): Promise<boolean>;
  /** Delivery state of an event (by id) for every target it was routed to. */
  deliveries(eventId: string): Promise<DeliveryState[]>;
  /** Earlier outcomes of an event's deliveries that replays started over, oldest first. */
  history(eventId: string): Promise<PastDelivery[]>;
}

/** Small durable values every node of a deployment shares. */
export interface SharedState {
  /** A named value (a position, or a time in ms for schedules); 0 before the first set. */
  cursor(name: string): Promise<number>;
  setCursor(name: string, value: number): Promise<void>;
  /** Every named value whose name starts with `prefix` and is not 0, by name (holds an operator lists). */
  list(prefix: string): Promise<{ name: string; value: number }[]>;
  /**
   * Adds `by` to the named counter unless that would pass `max`; resolves to the value after, or
   * undefined when refused. Atomic across every node (budgets).
   */
  increment(name: string, by: number, max: number): Promise<number | undefined>;
  /**
   * Holds the named lease for `ttlMs` as `holder` (taken if free or expired, renewed if `holder`
   * has it); true when `holder` holds it now. At most one holder at a time across nodes (schedules).
   */
  lease(name: string, holder: string, ttlMs: number): Promise<boolean>;
}

/** Upkeep: retention, re-encryption, counts. */
export interface Maintenance {
  /** Removes events accepted before `beforeMs` whose deliveries are all finished; never pending work. */
  prune(beforeMs: number): Promise<number>;
  /** Re-seals up to `limit` records not sealed with the active data key; resolves to how many (0: done). */
  reencrypt(limit: number): Promise<number>;
  /** How many stored records each data key version seals (0: plaintext). */
  sealedVersions(): Promise<Map<number, number>>;
  /** Deliveries waiting for an attempt, and dead-lettered ones. */
  stateCounts(): Promise<{ pending: number; failed: number }>;
}

/** What a deployment guarantees about an acknowledged write, printed at start. */
export interface Durability {
  readonly backend: "sqlite" | "nats";
  /** e.g. "fsync before every acknowledgement (group commit)", "R3, server syncs every 2m0s". */
  readonly summary: string;
  /** True when an acknowledged write survives the loss of one machine's unsynced page cache. */
  readonly safe: boolean;
}

/** What an app stores through: the four roles over one backend, sealed (see sealed-store.ts). */
export interface Store {
  readonly events: EventStore;
  readonly queue: DeliveryQueue;
  readonly state: SharedState;
  readonly maintenance: Maintenance;
  readonly durability: Durability;
  close(): Promise<void>;
}

// ---- What a backend implements: the same roles over opaque bodies -------------------------------

/** An event as a backend holds it: what dedupe and routing need in the clear, the envelope sealed. */
export interface RawEvent {
  readonly id: string;
  readonly source: string;
  /** The authenticated origin (dedupe scope). */
  readonly principal: string;
  readonly type: string;
  /** The sealed envelope (JSON of the CloudEvent, sealed by the wrapper; plain JSON when not). */
  readonly body: string;
}

export interface RawStoredEvent extends RawEvent {
  readonly seq: number;
  readonly acceptedAt: number;
}

/** A due delivery as a backend hands it out: the event's raw record, not yet opened. */
export interface RawDelivery {
  readonly seq: number;
  readonly target: string;
  readonly attempts: number;
  readonly record: RawStoredEvent;
  readonly replay?: Replay;
  /** Set by a backend that cannot vouch for the delivery itself (e.g. its row's MAC fails). */
  readonly refused?: { readonly reason: DeadLetterReason; readonly error: string };
}

/** The text `sealed` sealed anew under the active key for `record`, or undefined to leave it as it is. */
export type Reseal = (sealed: string, record: string) => string | undefined;

/**
 * A backend. Errors it stores (delivery errors) arrive sealed; it never opens a body. Routing: a
 * backend sends each event to the subscriptions whose types match (by its own means: rows, consumer
 * subjects); `routesByContent` says whether it also applied the content filter (then a delivery the
 * filter rejects at take time is tampering; otherwise it is skipped).
 */
export interface RawStore {
  readonly routesByContent: boolean;
  /** As `DeliveryQueue.shortTakeHolds`. */
  readonly shortTakeHolds?: boolean;
  /**
   * False for a backend whose stored event bodies (and texts stored with them, such as delivery
   * outcome errors) cannot be rewritten in place (a JetStream stream): `reseal` re-seals only what
   * it can, and `countVersions` keeps counting the rest under their old version until prune removes
   * them. @default true
   */
  readonly rewritesBodies?: boolean;
  /**
   * True for a backend whose `prune` removes only a prefix of the events (a JetStream stream is
   * purged from its start): an old finished event after the oldest pending one stays until that
   * one is finished. @default false
   */
  readonly prunesPrefixOnly?: boolean;
  readonly durability: Durability;
  append(events: readonly RawEvent[]): Promise<Appended[]>;
  read(after: number, limit: number): Promise<RawStoredEvent[]>;
  find(eventId: string): Promise<RawStoredEvent[]>;
  latest(): Promise<number>;
  earliest(): Promise<number>;
  take(target: string, limit: number): Promise<RawDelivery[]>;
  /** As `DeliveryQueue.settle`; `skipped` acknowledges work the content filter does not want. */
  settle(delivery: DeliveryRef, outcome: Outcome | { readonly kind: "skipped" }): Promise<void>;
  /** As `DeliveryQueue.giveBack`. */
  giveBack(delivery: DeliveryRef): void;
  nextDue(): Promise<number | undefined>;
  watch(wake: Wake): () => void;
  deadLetters(limit: number): Promise<DeadLetter[]>;
  replay(seq: number, target: string, replay: Replay, refused?: string): Promise<void>;
  requeue(seq: number, target: string): Promise<boolean>;
  /** As `DeliveryQueue.deliveries`, each with its event's position (what its error is bound to). */
  deliveries(eventId: string): Promise<(DeliveryState & { readonly seq: number })[]>;
  history(eventId: string): Promise<(PastDelivery & { readonly seq: number })[]>;
  readonly state: SharedState;
  prune(beforeMs: number): Promise<number>;
  /**
   * Re-seals up to `limit` stored texts (bodies, errors) for which `isStale(text, record)` holds, with
   * `reseal` (undefined: leave it as it is); `record` is `eventRecordOf`/`errorRecordOf` of the text.
   * Resolves to how many were re-sealed; 0 only after a full pass found none to re-seal.
   */
  reseal(
    limit: number,
    isStale: (sealed: string, record: string) => boolean,
    reseal: Reseal,
  ): Promise<number>;
  /** Counts stored texts by `versionOf`. */
  countVersions(versionOf: (sealed: string) => number): Promise<Map<number, number>>;
  stateCounts(): Promise<{ pending: number; failed: number }>;
  close(): Promise<void>;
}

/** What every backend is opened with. */
export interface RawStoreOptions {
  /** Duplicates (same principal, source and id) inside this window are not stored again. */
  readonly dedupeWindowMs: number;
  /**
   * Targets this process routes for; a gateway-only process still names them so queues exist. A
   * process that appends must name every target (what it appends is routed as it is appended); one
   * that only reads or re-seals (`palisade keys`) may name none.
   */
  readonly subscriptions: readonly Subscription[];
  /**
   * Whether `target`'s content filter accepts a stored event (the wrapper opens the body to tell).
   * A backend that routes by content calls it when routing.
   */
  readonly accepts: (target: string, record: RawStoredEvent) => boolean;
  /** Authentication code under a key only the platform holds, for a backend that signs its rows. */
  readonly mac?: (text: string) => string;
}

/** The record a sealed body is bound to (associated data): another event's body does not open here. */
export function eventRecordOf(e: { principal: string; source: string; id: string; type: string }): string {
  return `event\n${e.principal}\n${e.source}\n${e.id}\n${e.type}`;
}

/** The record a sealed delivery error is bound to. */
export function errorRecordOf(seq: number, target: string): string {
  return `error\n${seq}\n${target}`;
}

export type { CloudEvent };
