/**
 * The NATS JetStream backend of the storage seam (`RawStore`), for gateways and workers on many
 * machines. Layout, all named after the app (names.ts):
 *
 * - stream `PALISADE_<APP>_EVENTS`, subjects `palisade.<app>.ev.<type>`: the events (nats-events.ts);
 * - a durable pull consumer per target and type pattern: the delivery queues (delivery-consumers.ts);
 * - stream `PALISADE_<APP>_OUTCOMES`, subjects `palisade.<app>.out.<seq>.<target>`: outcome records;
 * - stream `PALISADE_<APP>_REPLAYS` (work queue), subjects `palisade.<app>.rp.<target>`: replays;
 * - KV buckets `palisade_<app>_dedupe` (the dedupe window), `_dead` (dead letters), `_state`.
 *
 * The connection is the caller's: `close` stops this store's fetch loops and gives back what they
 * buffered, and leaves the connection open.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Durability, RawStore, RawStoreOptions } from "../store.ts";
import { ensureConsumers } from "./delivery-consumers.ts";
import { createDeliveryRecords } from "./delivery-records.ts";
import { type NatsNames, natsNames } from "./names.ts";
import { createNatsEvents } from "./nats-events.ts";
import { createNatsMaintenance } from "./nats-maintenance.ts";
import { createNatsTaker } from "./nats-queue.ts";
import { openNatsResources } from "./nats-resources.ts";
import { createNatsSharedState } from "./nats-shared-state.ts";
import { createOutcomeLog } from "./outcome-records.ts";

/** How to open a NATS-backed store. */
export interface NatsRawStoreOptions extends RawStoreOptions {
  /** The app's name: every stream, subject, bucket and consumer is named after it. */
  readonly app: string;
  /** Replicas of every stream and bucket (1, 3 or 5). */
  readonly replicas: number;
  /** A hard age limit on stored events (JetStream `max_age`), or 0 for none. @default 0 */
  readonly retentionMs?: number;
  /** How long a taken delivery stays claimed without a heartbeat (the lease). @default 30000 */
  readonly ackWaitMs?: number;
  /**
   * How long one fetch waits on the server; keep it well under the lease. At least 1000 (the
   * client refuses shorter fetches, which would leave the queue silently empty). @default 5000
   */
  readonly fetchExpiresMs?: number;
  /** Messages each of a target's consumers buffers ahead of `take`. @default 32 */
  readonly prefetch?: number;
  /** What the deployment guarantees (openNatsDeployment knows the sync policy). @default by replicas */
  readonly durability?: Durability;
}

/** A NATS-backed RawStore and what it is made of. */
export interface NatsRawStore extends RawStore {
  readonly names: NatsNames;
}

/** Default lease of a taken delivery. @default 30 s */
export const DEFAULT_ACK_WAIT_MS = 30_000;

/**
 * Opens (creating what is missing) the JetStream store of `options.app` on the connected `nc`, and
 * the delivery consumers `options.subscriptions` need.
 */
export async function openNatsRawStore(
  nc: NatsConnection,
  options: NatsRawStoreOptions,
): Promise<NatsRawStore> {
  const names = natsNames(options.app);
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const res = await openNatsResources(nc, names, {
    replicas: options.replicas,
    retentionMs: options.retentionMs ?? 0,
  });
  await ensureConsumers(res.jsm, names, options.subscriptions, { ackWaitMs, fromStart: res.createdEvents });
  const events = createNatsEvents(res, names, options.dedupeWindowMs);
  const outcomes = createOutcomeLog(res.js, res.jsm, names, options.mac);
  const taker = createNatsTaker({
    res,
    names,
    events,
    outcomes,
    ackWaitMs,
    prefetch: options.prefetch ?? 32,
    fetchExpiresMs: Math.max(1_000, options.fetchExpiresMs ?? 5_000),
    mac: options.mac,
    targets: options.subscriptions.map((s) => s.name),
  });
  const records = createDeliveryRecords({
    res,
    names,
    events,
    outcomes,
    ackWaitMs,
    mac: options.mac,
    accepts: options.accepts,
  });
  const maintenance = createNatsMaintenance({ res, names, events, records });
  const durability: Durability = options.durability ?? {
    backend: "nats",
    summary: `R${options.replicas}, server ${nc.info?.version ?? "unknown"}`,
    safe: options.replicas >= 3,
  };
  return {
    names,
    // Routing is by type (consumer subjects); the content filter is applied at take (`skipped`).
    routesByContent: false,
    // Stream messages are immutable: reseal re-seals dead letters only (nats-maintenance.ts).
    rewritesBodies: false,
    // The events stream is purged from its start (nats-maintenance.ts).
    prunesPrefixOnly: true,
    durability,
    append: events.append,
    read: events.read,
    find: events.find,
    latest: async () => {
      const { first, last } = await events.bounds();
      return first > last ? 0 : last;
    },
    earliest: async () => {
      const { first, last } = await events.bounds();
      return first > last ? 0 : first;
    },
    take: taker.take,
    settle: taker.settle,
    giveBack: taker.giveBack,
    nextDue: async () => undefined,
    watch: taker.watch,
    deadLetters: records.deadLetters,
    replay: records.replay,
    requeue: records.requeue,
    deliveries: records.deliveries,
    history: records.history,
    state: createNatsSharedState(res.state),
    prune: maintenance.prune,
    reseal: maintenance.reseal,
    countVersions: maintenance.countVersions,
    stateCounts: maintenance.stateCounts,
    close: taker.close,
  };
}
