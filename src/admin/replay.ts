/**
 * Sending work again, for the CLI and the admin API alike: dead letters back to pending (`dlq
 * replay`), archived events to their subscribers again (`replay`). Neither is a back door: each
 * (event, function) is checked against the app as it is now (replay-check.ts), and one that fails
 * stays dead (or is dead-lettered) with the reason.
 */
import type { EventStore, Replay, Store, StoredEvent } from "../bus/index.ts";
import { matchesTypePattern } from "../events/index.ts";
import type { AppModel } from "../manifest/index.ts";
import { currentRegistry, whyNot } from "./replay-check.ts";

/** One (event, function) a replay refused, and why. */
export interface ReplayRefusal {
  readonly eventId: string;
  readonly target: string;
  readonly reason: string;
}

export interface DlqReplayResult {
  /** Dead letters the selection matched. */
  readonly matched: number;
  readonly requeued: number;
  readonly refused: readonly ReplayRefusal[];
}

/** Which dead letters: one event's (optionally one function's), or every one (optionally one function's). */
export interface DlqSelection {
  readonly eventId?: string;
  readonly function?: string;
}

/** How many dead letters one replay looks at. */
const DLQ_SCAN = 1_000_000;

/**
 * Moves the selected dead letters back to pending, due now. One whose stored event no longer opens,
 * or that the app as it is now refuses, stays dead-lettered (now with reason `replay-refused`).
 */
export async function replayDeadLetters(
  app: AppModel,
  store: Store,
  selection: DlqSelection,
  by: Replay,
): Promise<DlqReplayResult> {
  const registry = currentRegistry(app);
  const dead = (await store.queue.deadLetters(DLQ_SCAN)).filter(
    (d) =>
      (selection.eventId === undefined || d.eventId === selection.eventId) &&
      (selection.function === undefined || d.target === selection.function),
  );
  let requeued = 0;
  const refused: ReplayRefusal[] = [];
  for (const d of dead) {
    let unreadable: string | undefined;
    const [stored] = await store.events.read(d.seq - 1, 1, (_seq, error) => {
      unreadable = error;
    });
    if (unreadable !== undefined) {
      // A record that does not open stays dead-lettered as it is (corrupt); the others go on.
      refused.push({
        eventId: d.eventId,
        target: d.target,
        reason: `its stored event does not open: ${unreadable}`,
      });
      continue;
    }
    const refusal =
      stored?.seq !== d.seq
        ? "the event is no longer in the store"
        : whyNot(app, registry, d.target, stored.event);
    if (refusal === undefined) {
      if (await store.queue.requeue(d.seq, d.target)) requeued++;
      continue;
    }
    // Stays dead, now for this reason (the earlier outcome is kept in its history).
    await store.queue.replay(d.seq, d.target, by, refusal);
    refused.push({ eventId: d.eventId, target: d.target, reason: refusal });
  }
  return { matched: dead.length, requeued, refused };
}

/** The details of the `delivery.replayed` audit record of a DLQ replay (CLI and API alike). */
export function dlqReplayDetails(
  result: DlqReplayResult,
  eventId: string | undefined,
): Record<string, unknown> {
  return {
    from: "dlq",
    count: result.requeued,
    refused: result.matched - result.requeued,
    ...(eventId === undefined ? {} : { eventId }),
  };
}

/** Which archived events: accepted within [since, until], of a type (pattern), for one function or all. */
export interface ArchiveSelection {
  readonly since: number;
  readonly until: number;
  readonly type?: string;
  readonly function?: string;
}

export interface ArchiveReplayResult {
  /** Events the selection matched. */
  readonly events: number;
  /** Deliveries started again. */
  readonly replayed: number;
  /** Deliveries refused (dead-lettered with the reason). */
  readonly refused: readonly ReplayRefusal[];
  /** Stored records that do not open (skipped). */
  readonly skipped: readonly { readonly seq: number; readonly error: string }[];
}

const BATCH = 1000;

/**
 * Delivers the selected archived events again, with their original ids and traceparent, marked as
 * replays (`by`). Each (event, function) is checked against the app as it is now; one that no
 * longer passes is dead-lettered with the reason. `progress` hears (done, total) events.
 */
export async function replayArchive(
  app: AppModel,
  store: Store,
  selection: ArchiveSelection,
  by: Replay,
  progress?: (done: number, total: number) => void,
): Promise<ArchiveReplayResult> {
  const registry = currentRegistry(app);
  const skipped: { seq: number; error: string }[] = [];
  const matching: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const { batch, last } = await readArchive(store.events, after, skipped);
    if (last === undefined) break;
    after = last;
    for (const s of batch) {
      if (s.acceptedAt < selection.since || s.acceptedAt > selection.until) continue;
      if (selection.type !== undefined && !matchesTypePattern(selection.type, s.event.type)) continue;
      matching.push(s);
    }
  }
  let replayed = 0;
  const refused: ReplayRefusal[] = [];
  let events = 0;
  for (const s of matching) {
    const targets =
      selection.function !== undefined
        ? [selection.function]
        : [...app.functions.values()]
            .filter((f) => f.on.some((p) => matchesTypePattern(p, s.event.type)))
            .map((f) => f.name);
    for (const target of targets) {
      const refusal = whyNot(app, registry, target, s.event);
      await store.queue.replay(s.seq, target, by, refusal);
      if (refusal === undefined) replayed++;
      else refused.push({ eventId: s.event.id, target, reason: refusal });
    }
    events++;
    progress?.(events, matching.length);
  }
  return { events, replayed, refused, skipped };
}

/**
 * The next archived events after `after` and the last position read. A record that does not open
 * (corrupt) is noted in `skipped` and passed over, so it cannot stop the replay of the others.
 */
async function readArchive(
  events: EventStore,
  after: number,
  skipped: { seq: number; error: string }[],
): Promise<{ batch: StoredEvent[]; last: number | undefined }> {
  let last: number | undefined;
  const batch = await events.read(after, BATCH, (seq, error) => {
    skipped.push({ seq, error });
    last = Math.max(last ?? 0, seq);
  });
  const read = batch.at(-1)?.seq;
  return { batch, last: read === undefined ? last : Math.max(read, last ?? 0) };
}
