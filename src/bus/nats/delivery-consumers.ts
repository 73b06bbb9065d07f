/**
 * The delivery queue of a target on JetStream: one durable pull consumer per type pattern on the
 * events stream (explicit ack, `ack_wait` = the lease), with the target's patterns reduced first so
 * their filters are disjoint. One consumer per pattern works on nats-server 2.9 (one filter per
 * consumer) and on 2.10+ alike, so a deployment can move between them. Each consumer's description
 * names its target and pattern, so every node (and the operator commands) can see the routing.
 * Replays go through a durable consumer per target on the replays stream.
 */
import type { ConsumerConfig, JetStreamManager } from "@nats-io/jetstream";
import type { Subscription } from "../store.ts";
import {
  deliveryConsumer,
  disjointPatterns,
  encodeToken,
  type NatsNames,
  patternSubject,
  replayConsumer,
} from "./names.ts";

/** One consumer of the events stream: whose, for which subjects, from which sequence on. */
export interface Route {
  readonly name: string;
  readonly target: string;
  readonly pattern: string;
  readonly filter: string;
  /** The first stream sequence routed to it. */
  readonly startSeq: number;
}

const MS = 1_000_000;

/** The routes on the server now (consumers this store did not create are left out). */
export async function listRoutes(jsm: JetStreamManager, names: NatsNames): Promise<Route[]> {
  const routes: Route[] = [];
  for await (const ci of jsm.consumers.list(names.eventsStream)) {
    const about = describe(ci.config.description);
    if (about === undefined) continue;
    const startSeq = ci.config.deliver_policy === "by_start_sequence" ? (ci.config.opt_start_seq ?? 1) : 1;
    routes.push({ name: ci.name, ...about, filter: ci.config.filter_subject ?? "", startSeq });
  }
  return routes;
}

/**
 * Creates the consumers `subscriptions` need. A new consumer starts at the first event when this
 * open created the stream, else at the next event (a target added to a running app gets new events).
 * A consumer for a pattern a target no longer has is deleted once it has nothing outstanding; until
 * then it still hands out what was routed to it (the platform dead-letters it as `not-subscribed`).
 */
export async function ensureConsumers(
  jsm: JetStreamManager,
  names: NatsNames,
  subscriptions: readonly Subscription[],
  options: { readonly ackWaitMs: number; readonly fromStart: boolean },
): Promise<void> {
  const existing = new Map((await listRoutes(jsm, names)).map((r) => [r.name, r]));
  const { state } = await jsm.streams.info(names.eventsStream);
  const wanted = new Set<string>();
  for (const sub of subscriptions) {
    for (const pattern of disjointPatterns(sub.on)) {
      const filter = patternSubject(names, pattern);
      const name = deliveryConsumer(sub.name, filter);
      wanted.add(name);
      if (existing.has(name)) continue;
      await addConsumer(jsm, names.eventsStream, {
        durable_name: name,
        description: JSON.stringify({ target: sub.name, pattern }),
        filter_subject: filter,
        ...(options.fromStart
          ? { deliver_policy: "all" as const }
          : { deliver_policy: "by_start_sequence" as const, opt_start_seq: state.last_seq + 1 }),
        ...leased(options.ackWaitMs),
      });
    }
    await ensureReplayConsumer(jsm, names, sub.name, options.ackWaitMs);
  }
  const targets = new Set(subscriptions.map((s) => s.name));
  for (const route of existing.values()) {
    if (!targets.has(route.target) || wanted.has(route.name)) continue;
    const ci = await jsm.consumers.info(names.eventsStream, route.name);
    if (ci.num_pending + ci.num_ack_pending === 0)
      await jsm.consumers.delete(names.eventsStream, route.name).catch(() => false);
  }
}

/** Creates `target`'s replay consumer when it is missing. */
export async function ensureReplayConsumer(
  jsm: JetStreamManager,
  names: NatsNames,
  target: string,
  ackWaitMs: number,
): Promise<string> {
  const name = replayConsumer(target);
  await addConsumer(jsm, names.replaysStream, {
    durable_name: name,
    description: JSON.stringify({ target, pattern: "" }),
    filter_subject: `${names.replays}.${encodeToken(target)}`,
    deliver_policy: "all",
    ...leased(ackWaitMs),
  });
  return name;
}

function leased(ackWaitMs: number): Partial<ConsumerConfig> {
  // Unlimited deliveries: the platform's retry policy decides when a delivery is dead.
  return { ack_policy: "explicit", ack_wait: ackWaitMs * MS, max_deliver: -1, max_ack_pending: 10_000 };
}

async function addConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    // Created by another node meanwhile (perhaps with another start): theirs is as good.
    const there = await jsm.consumers.info(stream, config.durable_name).catch(() => undefined);
    if (there === undefined) throw err;
    if (there.config.ack_wait !== config.ack_wait)
      await jsm.consumers.update(stream, config.durable_name, { ack_wait: config.ack_wait ?? 0 });
  }
}

function describe(text: string | undefined): { target: string; pattern: string } | undefined {
  try {
    const v = JSON.parse(text ?? "") as { target?: unknown; pattern?: unknown };
    return typeof v.target === "string" && typeof v.pattern === "string"
      ? { target: v.target, pattern: v.pattern }
      : undefined;
  } catch {
    return undefined;
  }
}
