/**
 * The event store on JetStream: one stream per app, an event per message on a subject named after
 * its type, deduped twice: the stream's message ids (its duplicate window, at most 2 min) catch
 * concurrent and quick resends atomically, and a KV index (`<hash(id)>.<hash(principal, source)>` →
 * sequence, kept for the whole dedupe window) catches later ones.
 *
 * Guarantees of `append`: it resolves only after JetStream acknowledged every event. A batch is not
 * one transaction (JetStream before 2.12 has none): when a publish fails the append rejects, the
 * events already acknowledged stay, and the caller's retry with the same events is deduped, so a
 * retried batch ends stored exactly once. Crash windows: an event is published before its KV entry
 * is created (never the other way round, which could report as duplicate an event never stored); a
 * crash between the two leaves the event without an index entry, so a resend later than the
 * stream's duplicate window (but inside the dedupe window) is stored again, and `find` falls back
 * to a scan for it. Two gateways appending one event at once: the stream stores it once and both
 * report its sequence (the second as a duplicate).
 */
import type { JsMsg, StoredMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Appended } from "../event-log.ts";
import type { RawEvent, RawStoredEvent } from "../store.ts";
import { eventHeaders, eventIdOf, eventOf } from "./event-codec.ts";
import { dedupeKey, eventSubject, idKey, type NatsNames } from "./names.ts";
import type { NatsResources } from "./nats-resources.ts";
import { scanStream } from "./scan.ts";

/** The events stream of one app. */
export interface NatsEvents {
  append(events: readonly RawEvent[]): Promise<Appended[]>;
  read(after: number, limit: number): Promise<RawStoredEvent[]>;
  find(eventId: string): Promise<RawStoredEvent[]>;
  /** The stored event at `seq`, or undefined when it is gone (pruned) or not an event. */
  get(seq: number): Promise<RawStoredEvent | undefined>;
  /** Sequences of the first and last stored events (first > last when the stream is empty). */
  bounds(): Promise<{ first: number; last: number }>;
  /** The last stored sequence accepted before `beforeMs`, at most `upTo` (0: none). */
  lastBefore(beforeMs: number, upTo: number): Promise<number>;
  /** Removes every event up to `seq`; resolves to how many went. */
  purgeThrough(seq: number): Promise<number>;
}

/** The event store over `res` and `names`. */
export function createNatsEvents(res: NatsResources, names: NatsNames, dedupeWindowMs: number): NatsEvents {
  const { js, jsm, dedupe } = res;
  // The bucket's TTL removes entries on a timer; an entry past the window no longer counts.
  const seqOf = (key: string) => indexedSeq(dedupe, key, dedupeWindowMs);
  const stream = names.eventsStream;

  async function get(seq: number): Promise<RawStoredEvent | undefined> {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    return m === null ? undefined : eventOf(m.seq, m.header, m.data);
  }

  async function bounds(): Promise<{ first: number; last: number }> {
    const { state } = await jsm.streams.info(stream);
    return { first: state.first_seq, last: state.last_seq };
  }

  return {
    async append(events) {
      const keys = events.map(dedupeKey);
      const known = await Promise.all(keys.map(seqOf));
      const acceptedAt = Date.now();
      // Published in order on one connection, so a batch keeps its order in the stream, and a
      // second copy inside the batch is the stream's duplicate of the first.
      const acks = await Promise.all(
        events.map((e, i) =>
          known[i] !== undefined
            ? undefined
            : js.publish(eventSubject(names, e.type), e.body, {
                msgID: keys[i] ?? "",
                headers: eventHeaders(e, acceptedAt),
                retries: 3,
              }),
        ),
      );
      await Promise.all(
        acks.map((ack, i) =>
          ack === undefined ? undefined : remember(dedupe, keys[i] ?? "", ack.seq, dedupeWindowMs),
        ),
      );
      return events.map((e, i) => {
        const ack = acks[i];
        if (ack === undefined) return { id: e.id, seq: known[i] ?? 0, duplicate: true };
        return { id: e.id, seq: ack.seq, duplicate: ack.duplicate };
      });
    },
    async read(after, limit) {
      const out: RawStoredEvent[] = [];
      if (limit <= 0) return out;
      for await (const m of scanStream(js, jsm, stream, { startSeq: after + 1, max: limit })) {
        const e = fromMsg(m);
        if (e !== undefined) out.push(e);
      }
      return out;
    },
    async find(eventId) {
      const seqs = new Set<number>();
      const index = await dedupe.keys(`${idKey(eventId)}.*`);
      const keys: string[] = [];
      for await (const k of index) keys.push(k);
      for (const seq of await Promise.all(keys.map((k) => indexedSeq(dedupe, k, Number.POSITIVE_INFINITY))))
        if (seq !== undefined) seqs.add(seq);
      const found = (await Promise.all([...seqs].map(get))).filter(
        (e): e is RawStoredEvent => e !== undefined && e.id === eventId,
      );
      // Older than the dedupe window (or never indexed): a scan of the stream's headers, O(events).
      if (found.length === 0) {
        for await (const m of scanStream(js, jsm, stream, { headersOnly: true }))
          if (eventIdOf(m.headers) === eventId) {
            const e = await get(m.seq);
            if (e !== undefined) found.push(e);
          }
      }
      return found.sort((a, b) => a.seq - b.seq);
    },
    get,
    bounds,
    async lastBefore(beforeMs, upTo) {
      // Binary search over the stored sequences (the stream only loses a prefix: no gaps).
      let { first: lo } = await bounds();
      let hi = upTo;
      let best = 0;
      while (lo <= hi) {
        const mid = Math.floor((lo + hi) / 2);
        const m = await jsm.streams.getMessage(stream, { seq: mid }).catch(() => null);
        const at = m === null ? undefined : acceptedOf(m);
        if (at === undefined) return best; // a gap after all: stop at what is known to be old
        if (at < beforeMs) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return best;
    },
    async purgeThrough(seq) {
      const r = await jsm.streams.purge(stream, { seq: seq + 1 });
      return r.purged;
    },
  };
}

function fromMsg(m: JsMsg): RawStoredEvent | undefined {
  return eventOf(m.seq, m.headers, m.data);
}

function acceptedOf(m: StoredMsg): number | undefined {
  return eventOf(m.seq, m.header, m.data)?.acceptedAt;
}

async function indexedSeq(kv: KV, key: string, windowMs: number): Promise<number | undefined> {
  const e = await kv.get(key);
  if (e === null || e.operation !== "PUT" || e.created.getTime() < Date.now() - windowMs) return undefined;
  const seq = Number(e.string());
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

async function remember(kv: KV, key: string, seq: number, windowMs: number): Promise<void> {
  try {
    await kv.create(key, String(seq));
  } catch (err) {
    if (!isConflict(err)) throw err;
    // Indexed already: by a concurrent append of the same event (keep it), or by an entry past
    // the window that the bucket has not removed yet (replace it, unless someone else just did).
    const e = await kv.get(key);
    if (e === null || e.created.getTime() >= Date.now() - windowMs) return;
    await kv.update(key, String(seq), e.revision).catch((again: unknown) => {
      if (!isConflict(again)) throw again;
    });
  }
}

function isConflict(err: unknown): boolean {
  return /wrong last sequence|exists/i.test(String(err));
}
