/**
 * The operator's side of the queue: dead letters (a KV bucket, `<seq>.<target>` → the dead letter),
 * replays and requeues (a replay message plus a marker record), and each event's delivery state and
 * history folded from its outcome records. Routing is read from the consumers on the server, so any
 * node (or an operator command) sees every target's queue.
 */
import type { DeadLetter, DeliveryState, PastDelivery, Replay } from "../event-log.ts";
import type { RawStoredEvent } from "../store.ts";
import { ensureReplayConsumer, listRoutes } from "./delivery-consumers.ts";
import { eventSubject, type NatsNames, subjectMatches } from "./names.ts";
import type { NatsEvents } from "./nats-events.ts";
import { deadKey } from "./nats-queue.ts";
import type { NatsResources } from "./nats-resources.ts";
import { foldOutcomes, type OutcomeLog } from "./outcome-records.ts";
import { publishReplay } from "./replay-messages.ts";

/** Dead letters, replays and delivery states. */
export interface DeliveryRecords {
  deadLetters(limit: number): Promise<DeadLetter[]>;
  replay(seq: number, target: string, replay: Replay, refused?: string): Promise<void>;
  requeue(seq: number, target: string): Promise<boolean>;
  deliveries(eventId: string): Promise<(DeliveryState & { readonly seq: number })[]>;
  history(eventId: string): Promise<(PastDelivery & { readonly seq: number })[]>;
  /** Every dead letter with its bucket revision (events already pruned left out). */
  allDead(): Promise<{ key: string; revision: number; dead: DeadLetter }[]>;
}

/** The records of one store. */
export function createDeliveryRecords(ctx: {
  readonly res: NatsResources;
  readonly names: NatsNames;
  readonly events: NatsEvents;
  readonly outcomes: OutcomeLog;
  readonly ackWaitMs: number;
  readonly mac: ((text: string) => string) | undefined;
  /** Whether a target's content filter wants an event (routing here is by type only). */
  readonly accepts: (target: string, record: RawStoredEvent) => boolean;
}): DeliveryRecords {
  const { res, names, events, outcomes } = ctx;

  async function allDead() {
    const keys: string[] = [];
    for await (const k of await res.dead.keys()) keys.push(k);
    const { first } = await events.bounds();
    const entries = await Promise.all(keys.map((k) => res.dead.get(k)));
    const out: { key: string; revision: number; dead: DeadLetter }[] = [];
    for (const e of entries) {
      if (e === null || e.operation !== "PUT") continue;
      const dead = e.json<DeadLetter>();
      if (dead.seq >= first) out.push({ key: e.key, revision: e.revision, dead });
    }
    return out;
  }

  async function states(eventId: string) {
    const found = await events.find(eventId);
    const routes = found.length === 0 ? [] : await listRoutes(res.jsm, names);
    return Promise.all(
      found.map(async (e: RawStoredEvent) => {
        const subject = eventSubject(names, e);
        const routed = routes
          .filter((r) => r.startSeq <= e.seq && subjectMatches(r.filter, subject))
          .map((r) => r.target)
          // A target whose content filter rejects the event skips it at take: it is owed nothing
          // (its outcome records, e.g. of a replay, still show).
          .filter((target) => ctx.accepts(target, e));
        const folded = foldOutcomes([...new Set(routed)], await outcomes.all(e.seq));
        // Each state names its event's position: its error is sealed against it.
        return {
          current: folded.current.map((d) => ({ ...d, seq: e.seq })),
          past: folded.past.map((d) => ({ ...d, seq: e.seq })),
        };
      }),
    );
  }

  return {
    async deadLetters(limit) {
      const all = (await allDead()).map((d) => d.dead);
      return all.sort((a, b) => b.at - a.at || b.seq - a.seq).slice(0, Math.max(0, limit));
    },
    async replay(seq, target, replay, refused) {
      const at = Date.now();
      if (refused !== undefined) {
        await outcomes.write(seq, target, { kind: "refused", at, error: refused, by: replay.by });
        const e = await events.get(seq);
        const dead: DeadLetter = {
          seq,
          eventId: e?.id ?? "",
          type: e?.type ?? "",
          target,
          attempts: 0,
          reason: "replay-refused",
          error: refused,
          at,
        };
        await res.dead.put(deadKey(seq, target), JSON.stringify(dead));
        return;
      }
      // The marker first: a replay taken before its marker was written would fold out of order.
      await outcomes.write(seq, target, { kind: "replayed", at, by: replay.by });
      await res.dead.delete(deadKey(seq, target));
      await ensureReplayConsumer(res.jsm, names, target, ctx.ackWaitMs);
      await publishReplay(res.js, names, ctx.mac, { seq, target, replay });
    },
    async requeue(seq, target) {
      const key = deadKey(seq, target);
      const e = await res.dead.get(key);
      if (e === null || e.operation !== "PUT") return false;
      // Two operators requeueing at once publish the same message ids: one requeue happens.
      const msgID = `requeue.${key}.${e.revision}`;
      await outcomes.write(seq, target, { kind: "requeued", at: Date.now() }, msgID);
      await ensureReplayConsumer(res.jsm, names, target, ctx.ackWaitMs);
      await publishReplay(res.js, names, ctx.mac, { seq, target, msgID });
      await res.dead.delete(key, { previousSeq: e.revision }).catch(() => undefined);
      return true;
    },
    async deliveries(eventId) {
      return (await states(eventId)).flatMap((s) => s.current);
    },
    async history(eventId) {
      const past = (await states(eventId)).flatMap((s) => s.past);
      return past.sort((a, b) => a.supersededAt - b.supersededAt);
    },
    allDead,
  };
}
