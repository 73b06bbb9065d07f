/**
 * The streams and KV buckets of one app, created when missing (with the deployment's replicas) and
 * opened when present. A stream's replicas and retention follow the options on every open.
 */
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { whenAnswering } from "../../jetstream-ready.ts";
import type { NatsNames } from "./names.ts";

/** The handles a store works with. */
export interface NatsResources {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Dead letters: `<seq>.<target>` → the dead letter (removed by a requeue or a replay). */
  readonly dead: KV;
  /** Cursors, counters and leases. */
  readonly state: KV;
  /** True when this open created the events stream (its consumers then start at the first event). */
  readonly createdEvents: boolean;
}

/** How the streams are laid out. */
export interface ResourceOptions {
  readonly replicas: number;
  /** A hard age limit on events (JetStream `max_age`); 0 for none (prune is the normal path). */
  readonly retentionMs: number;
}

const MS = 1_000_000;

/** Creates or opens everything `names` lists. */
export async function openNatsResources(
  nc: NatsConnection,
  names: NatsNames,
  options: ResourceOptions,
): Promise<NatsResources> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const createdEvents = await ensureStream(
    jsm,
    {
      name: names.eventsStream,
      subjects: [`${names.events}.>`],
      max_age: options.retentionMs * MS,
    },
    options.replicas,
  );
  await ensureStream(
    jsm,
    { name: names.outcomesStream, subjects: [`${names.outcomes}.>`] },
    options.replicas,
  );
  await ensureStream(
    jsm,
    { name: names.replaysStream, subjects: [`${names.replays}.>`], retention: "workqueue" },
    options.replicas,
  );
  const kvm = new Kvm(js);
  // Nodes starting at once on a fresh cluster: each bucket answers once its leader is elected.
  const bucket = async (name: string) => {
    const kv = await whenAnswering(() => kvm.create(name, { replicas: options.replicas, history: 1 }));
    await whenAnswering(() => kv.get("ready"));
    return kv;
  };
  const dead = await bucket(names.deadBucket);
  const state = await bucket(names.stateBucket);
  return { js, jsm, dead, state, createdEvents };
}

/**
 * Creates the stream `config` names with `replicas` (file storage, direct gets), or brings an
 * existing one's replicas and max_age to what is asked. True when this call created it.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  replicas: number,
): Promise<boolean> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    storage: "file",
    num_replicas: replicas,
    allow_direct: true,
    ...config,
  };
  const existing = await jsm.streams.info(config.name).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (existing === undefined) {
    try {
      await jsm.streams.add(wanted);
      return true;
    } catch (err) {
      // Another node created it first: use theirs.
      if (!/already in use|already exists/i.test(String(err))) throw err;
      return false;
    }
  }
  const c = existing.config;
  const drift = c.num_replicas !== replicas || (config.max_age !== undefined && c.max_age !== config.max_age);
  if (drift) await jsm.streams.update(config.name, { ...c, ...wanted });
  return false;
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(String(err));
}
