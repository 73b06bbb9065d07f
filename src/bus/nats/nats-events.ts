/**
 * The event store on JetStream: one stream per app, an event per message on a subject of its own,
 * `…ev.<hash(id)>.<hash(principal, source)>.<type>` (names.ts). One publish stores an event and
 * dedupes it: it expects no earlier message on that subject (JetStream's expected last subject
 * sequence, checked atomically by the stream leader). When there is one, it is the earlier copy:
 * inside the dedupe window the append reports it as a duplicate at its sequence; past the window
 * the event is stored again, expecting that copy as the last (so two concurrent resends store one).
 *
 * Guarantees of `append`: it resolves only after JetStream acknowledged every event. A batch is not
 * one transaction (JetStream before 2.12 has none): when a publish fails the append rejects, the
 * events already acknowledged stay, and the caller's retry with the same events is deduped, so a
 * retried batch ends stored exactly once. A publish retried after "no responders" (a leader
 * election) or a lost acknowledgement finds its own first copy and reports it as a duplicate, at
 * the same sequence. Two gateways appending one event at once: the stream stores it once and both
 * report its sequence (the second as a duplicate). Not a duplicate here, unlike the SQLite store:
 * the same principal, source and id with another type (the subject check is per type).
 */
import type { JsMsg, StoredMsg } from "@nats-io/jetstream";
import { scanStream } from "../../jetstream-scan.ts";
import type { Appended } from "../event-log.ts";
import type { RawEvent, RawStoredEvent } from "../store.ts";
import { eventHeaders, eventOf } from "./event-codec.ts";
import { eventSubject, idFilter, type NatsNames } from "./names.ts";
import type { NatsResources } from "./nats-resources.ts";

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
  const { js, jsm } = res;
  const stream = names.eventsStream;

  async function get(seq: number): Promise<RawStoredEvent | undefined> {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    return m === null ? undefined : eventOf(m.seq, m.header, m.data);
  }

  async function bounds(): Promise<{ first: number; last: number }> {
    const { state } = await jsm.streams.info(stream);
    return { first: state.first_seq, last: state.last_seq };
  }

  /** Publishes `e` expecting `last` as the last message on its subject (0: none). */
  const publish = (e: RawEvent, subject: string, acceptedAt: number, last: number) =>
    js.publish(subject, e.body, {
      headers: eventHeaders(e, acceptedAt),
      expect: { lastSubjectSequence: last },
      retries: 3,
    });

  /** Stores `e` unless a copy inside the window is there; the position and whether it was one. */
  async function appendOne(e: RawEvent, acceptedAt: number): Promise<Appended> {
    const subject = eventSubject(names, e);
    let last = 0;
    for (;;) {
      try {
        const ack = await publish(e, subject, acceptedAt, last);
        return { id: e.id, seq: ack.seq, duplicate: false };
      } catch (err) {
        if (!wrongLastSequence(err)) throw err;
      }
      const prior = await jsm.direct.getMessage(stream, { last_by_subj: subject });
      const priorAt = prior === null ? undefined : acceptedOf(prior);
      if (prior !== null && priorAt !== undefined && priorAt >= Date.now() - dedupeWindowMs)
        return { id: e.id, seq: prior.seq, duplicate: true };
      // Past the window (or pruned meanwhile): stored again, unless another resend just was.
      last = prior?.seq ?? 0;
    }
  }

  return {
    async append(events) {
      const acceptedAt = Date.now();
      // Published in order on one connection, so a batch keeps its order in the stream, and a
      // second copy inside the batch finds the first.
      return Promise.all(events.map((e) => appendOne(e, acceptedAt)));
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
      // Every copy of the id is on a subject under `…ev.<hash(id)>.`: walk them in stream order.
      const found: RawStoredEvent[] = [];
      const filter = idFilter(names, eventId);
      for (let seq = 1; ; ) {
        const m = await jsm.direct.getMessage(stream, { next_by_subj: filter, seq });
        if (m === null) break;
        const e = eventOf(m.seq, m.header, m.data);
        if (e !== undefined && e.id === eventId) found.push(e);
        seq = m.seq + 1;
      }
      return found;
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

function wrongLastSequence(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 10071 || /wrong last sequence/i.test(String(err));
}
