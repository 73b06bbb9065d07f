/**
 * Upkeep on JetStream. Prune removes a prefix of the events stream: events accepted before the cut
 * and at or below every delivery consumer's ack floor (a consumer with nothing outstanding does not
 * hold it back) and below every event a pending replay names, so pending work is never removed;
 * then the outcome records and dead letters of the removed events.
 *
 * Re-encryption: stream messages are immutable, so only dead-letter entries (KV) are re-sealed;
 * event bodies and outcome-record errors sealed with an old key stay until prune removes them, and
 * `countVersions` counts them honestly, so retiring a key that still seals them is refused until
 * retention has removed them.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { scanStream } from "../../jetstream-scan.ts";
import { errorRecordOf, type Reseal } from "../store.ts";
import { listRoutes } from "./delivery-consumers.ts";
import type { DeliveryRecords } from "./delivery-records.ts";
import type { NatsNames } from "./names.ts";
import type { NatsEvents } from "./nats-events.ts";
import type { NatsResources } from "./nats-resources.ts";

/** The maintenance side of a store. */
export interface NatsMaintenance {
  prune(beforeMs: number): Promise<number>;
  reseal(
    limit: number,
    isStale: (sealed: string, record: string) => boolean,
    reseal: Reseal,
  ): Promise<number>;
  countVersions(versionOf: (sealed: string) => number): Promise<Map<number, number>>;
  stateCounts(): Promise<{ pending: number; failed: number }>;
}

/** How many outcome records one prune looks at. */
const OUTCOME_PRUNE_BATCH = 10_000;

/** The maintenance of one store. */
export function createNatsMaintenance(ctx: {
  readonly res: NatsResources;
  readonly names: NatsNames;
  readonly events: NatsEvents;
  readonly records: DeliveryRecords;
}): NatsMaintenance {
  const { res, names, events, records } = ctx;
  const { js, jsm } = res;

  /** The highest event sequence no pending work needs. */
  async function floor(): Promise<number> {
    let seq = (await events.bounds()).last;
    for (const route of await listRoutes(jsm, names)) {
      const ci = await jsm.consumers.info(names.eventsStream, route.name);
      if (ci.num_pending + ci.num_ack_pending > 0) seq = Math.min(seq, ci.ack_floor.stream_seq);
    }
    // Replays waiting in their work queue (no consumer may overlap theirs there: read by direct get).
    let at = (await jsm.streams.info(names.replaysStream)).state.first_seq;
    for (;;) {
      const m = await jsm.direct
        .getMessage(names.replaysStream, { seq: at, next_by_subj: `${names.replays}.>` })
        .catch(() => null);
      if (m === null) break;
      const wanted = Number(m.header.get("Pal-Seq"));
      if (Number.isSafeInteger(wanted)) seq = Math.min(seq, wanted - 1);
      at = m.seq + 1;
    }
    return seq;
  }

  return {
    async prune(beforeMs) {
      const upTo = await events.lastBefore(beforeMs, await floor());
      if (upTo === 0) return 0;
      const removed = await events.purgeThrough(upTo);
      await pruneRecords(js, jsm, names, upTo);
      for (const { key, dead } of await allDeadIncludingPruned(res))
        if (dead <= upTo) await res.dead.delete(key);
      return removed;
    },
    async reseal(limit, isStale, reseal) {
      let done = 0;
      for (const { key, revision, dead } of await records.allDead()) {
        if (done >= limit) break;
        const record = errorRecordOf(dead.seq, dead.target);
        if (!isStale(dead.error, record)) continue;
        const error = reseal(dead.error, record);
        if (error === undefined) continue;
        try {
          await res.dead.update(key, JSON.stringify({ ...dead, error }), revision);
          done++;
        } catch {
          // Changed meanwhile (requeued, or re-sealed by another node): the next pass looks again.
        }
      }
      return done;
    },
    async countVersions(versionOf) {
      const counts = new Map<number, number>();
      const add = (text: string) => {
        const v = versionOf(text);
        counts.set(v, (counts.get(v) ?? 0) + 1);
      };
      for await (const m of scanStream(js, jsm, names.eventsStream)) add(m.string());
      for await (const m of scanStream(js, jsm, names.outcomesStream)) {
        const error = m.json<{ error?: unknown }>()?.error;
        if (typeof error === "string") add(error);
      }
      for (const { dead } of await records.allDead()) add(dead.error);
      return counts;
    },
    async stateCounts() {
      let pending = (await jsm.streams.info(names.replaysStream)).state.messages;
      for (const route of await listRoutes(jsm, names)) {
        const ci = await jsm.consumers.info(names.eventsStream, route.name);
        pending += ci.num_pending + ci.num_ack_pending;
      }
      return { pending, failed: (await records.allDead()).length };
    },
  };
}

/** Removes the prefix of outcome records that only concern events at or below `upTo`. */
async function pruneRecords(js: JetStreamClient, jsm: JetStreamManager, names: NatsNames, upTo: number) {
  let last = 0;
  for await (const m of scanStream(js, jsm, names.outcomesStream, {
    headersOnly: true,
    max: OUTCOME_PRUNE_BATCH,
  })) {
    const seq = Number(m.subject.slice(names.outcomes.length + 1).split(".")[0]);
    if (!(seq <= upTo)) break;
    last = m.seq;
  }
  if (last > 0) await jsm.streams.purge(names.outcomesStream, { seq: last + 1 });
}

async function allDeadIncludingPruned(res: NatsResources): Promise<{ key: string; dead: number }[]> {
  const out: { key: string; dead: number }[] = [];
  for await (const key of await res.dead.keys()) out.push({ key, dead: Number(key.split(".")[0]) });
  return out;
}
