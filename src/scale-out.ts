/**
 * Scale-out on NATS JetStream (DESIGN §8): what a role opens when it is given `--nats` — the
 * deployment (connection, replicas, the durability it states or refuses), the JetStream backend of
 * the store, the rate-limit buckets every gateway shares, the key ring and secret store every node
 * shares (KV buckets; the master key stays on each node), where every node records its capability
 * use and finished spans (a KV bucket and a stream, read by `permissions report` and `traces` with
 * `--nats`), the audit stream every node appends its own hash chain to, and whether the broker is
 * reachable now.
 * While NATS is away an append fails fast with a 503 and Retry-After (nothing unacknowledged is
 * answered 202); the connection reconnects on its own and work resumes.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type AuditStream,
  BUS_UNAVAILABLE,
  type NatsDeployment,
  type NatsFlags,
  natsNames,
  natsOptionsFrom,
  openAuditStream,
  openNatsDeployment,
  openNatsRawStore,
  type RawStore,
} from "./bus/index.ts";
import { PalisadeError, toPalisadeError } from "./errors.ts";
import {
  createNatsRateLimitStore,
  openRateLimitBucket,
  type RateLimitStore,
  type Readiness,
} from "./gateway/index.ts";
import type { AppModel } from "./manifest/index.ts";
import { type Logger, type NatsTraceStream, openNatsTraceStream } from "./observe/index.ts";
import type { NatsBackend } from "./open-store.ts";
import {
  type KeyBuckets,
  type MasterKeyProvider,
  openKeyBuckets,
  openNatsKeyRing,
  openNatsSecretStore,
  openNatsUsageStore,
  type Sealer,
  type SharedKeyRing,
  type SharedKeyRingOptions,
  type SharedSecretStore,
  type SharedSecretStoreOptions,
  type UsageStore,
} from "./security/index.ts";

/** Which parts of the platform a process runs. */
export type Role = "all" | "gateway" | "worker";

/** Who opens the NATS side: a role of the platform, or an operator command (`dlq`, `audit`, … `--nats`). */
export type Opener = Role | "operator";

/**
 * How long a taken delivery stays claimed without a heartbeat. A live worker renews it every third
 * of this while it holds the delivery; a killed worker's deliveries go to another worker after it.
 */
export const DELIVERY_LEASE_MS = 10_000;

/** A role's NATS side, opened. */
export interface ScaleOut {
  readonly deployment: NatsDeployment;
  readonly backend: NatsBackend;
  readonly rateLimits: RateLimitStore;
  /** Why this process cannot work now (the broker is unreachable), or undefined. */
  readonly readiness: Readiness;
  /**
   * The key ring every node of the deployment shares (created by the first node to find none).
   * `master` unwraps its data keys here and never leaves this process.
   */
  openKeyRing(master: MasterKeyProvider, options?: SharedKeyRingOptions): Promise<SharedKeyRing>;
  /**
   * The audit stream every node appends its own hash chain to (created by the first node to find
   * none, with the deployment's replicas); the records are signed with each node's local audit key.
   */
  auditStream(): Promise<AuditStream>;
  /** The secret store every node shares, sealed by the shared key ring. */
  openSecrets(keyRing: Sealer, options?: SharedSecretStoreOptions): Promise<SharedSecretStore>;
  /**
   * The record of capability use every node writes its own counts to (closed, and so flushed,
   * with this). `onError` hears of a batch that could not be written (it goes with the next).
   */
  openUsage(options?: { onError?: (err: unknown) => void }): Promise<UsageStore>;
  /** The stream every node publishes its finished spans to. */
  openTraces(): Promise<NatsTraceStream>;
  /** Closes what was opened here (key ring and secret store watches first), then the connection. */
  close(): Promise<void>;
}

/**
 * Opens the NATS side of `role` for `app` when the flags (or PALISADE_NATS_URL) ask for NATS;
 * undefined otherwise (the embedded store). Prints the durability statement and its warnings.
 */
export async function openScaleOut(
  app: AppModel,
  flags: NatsFlags,
  { role, mode, logger }: { role: Opener; mode: "dev" | "start"; logger: Logger },
): Promise<ScaleOut | undefined> {
  const options = natsOptionsFrom(flags, process.env);
  if (options === undefined) return undefined;
  const deployment = await openNatsDeployment(options, {
    mode: role === "all" ? mode : role,
    logger,
    name: `palisade ${role === "all" ? mode : role} ${app.name}`,
  });
  for (const warning of deployment.warnings)
    logger.warn({ durability: deployment.durability.summary }, warning);
  const { nc } = deployment.link;
  const connected = watchConnection(nc, logger);
  try {
    const bucket = await openRateLimitBucket(
      nc,
      `palisade_${app.name.replace(/[^A-Za-z0-9_-]/g, "_")}_rate`,
      {
        replicas: deployment.replicas,
      },
    );
    const readiness: Readiness = () =>
      connected() ? undefined : `NATS at ${deployment.link.display} is unreachable; reconnecting`;
    const names = natsNames(app.name);
    let buckets: Promise<KeyBuckets> | undefined;
    const keyBuckets = () => {
      buckets ??= openKeyBuckets(
        nc,
        { keys: names.keysBucket, leases: names.keyLeasesBucket, secrets: names.secretsBucket },
        deployment.replicas,
      );
      return buckets;
    };
    let audit: Promise<AuditStream> | undefined;
    const opened: { close(): Promise<void> }[] = [];
    const track = <T extends { close(): Promise<void> }>(x: T): T => {
      opened.push(x);
      return x;
    };
    return {
      deployment,
      rateLimits: createNatsRateLimitStore(bucket),
      readiness,
      backend: {
        async open(rawOptions) {
          const raw = await openNatsRawStore(nc, {
            ...rawOptions,
            app: app.name,
            replicas: deployment.replicas,
            durability: deployment.durability,
            ackWaitMs: DELIVERY_LEASE_MS,
          });
          return guardAppends(raw, readiness);
        },
      },
      auditStream() {
        audit ??= openAuditStream(nc, names, deployment.replicas);
        return audit;
      },
      openKeyRing: async (master, options) =>
        track(await openNatsKeyRing(await keyBuckets(), master, options)),
      openSecrets: async (keyRing, options) =>
        track(await openNatsSecretStore(await keyBuckets(), keyRing, options)),
      openUsage: async (options) =>
        track(
          await openNatsUsageStore(nc, names.usageBucket, {
            replicas: deployment.replicas,
            ...(options?.onError === undefined ? {} : { onError: options.onError }),
          }),
        ),
      openTraces: () =>
        openNatsTraceStream(nc, { stream: names.tracesStream, subject: names.traces }, deployment.replicas),
      async close() {
        // The secret store and the ring (opened first) close in reverse: the ring's counts flush last.
        for (const x of opened.reverse()) await x.close().catch(() => undefined);
        await deployment.link.close();
      },
    };
  } catch (err) {
    await deployment.link.close();
    throw err;
  }
}

/** True while the connection is up; logs each loss and recovery. */
function watchConnection(nc: NatsConnection, logger: Logger): () => boolean {
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" && up) {
        up = false;
        logger.warn({}, "lost the connection to NATS; ingress answers 503 until it is back");
      } else if (s.type === "reconnect") {
        up = true;
        logger.info({}, "connection to NATS restored");
      }
    }
  })().catch(() => undefined);
  return () => up && !nc.isClosed();
}

/** How long an append rides out JetStream not answering (a stream leader election) before a 503. */
export const ELECTION_WAIT_MS = 3_000;

/**
 * The backend with appends that answer at once while the broker is away: a 503 the gateway turns
 * into Retry-After, rather than a publish buffered until it times out. While connected, an append
 * JetStream does not answer ("no responders" while a stream elects a leader after a node died, or a
 * timeout) is retried for up to `waitMs`, so a short election costs a request some latency, and a
 * function's emit its wait, rather than a failed attempt; republishing is safe (the event's subject
 * dedupes it). Past that, or for any other refusal, a 503: the sender retries with the same ids.
 */
export function guardAppends(raw: RawStore, readiness: Readiness, waitMs = ELECTION_WAIT_MS): RawStore {
  const unavailable = (why: string) =>
    new PalisadeError(
      BUS_UNAVAILABLE,
      `Events were not stored: ${why}. Retry the request shortly (same ids: duplicates are ignored)`,
      {
        status: 503,
        retryable: true,
        details: { retryAfterSec: 1 },
      },
    );
  return {
    ...raw,
    async append(events) {
      const deadline = Date.now() + waitMs;
      for (let attempt = 0; ; attempt++) {
        const down = readiness();
        if (down !== undefined) throw unavailable(down);
        try {
          return await raw.append(events);
        } catch (err) {
          const message = toPalisadeError(err).message;
          const pause = Math.min(1_000, 100 * 2 ** attempt);
          if (!electing(message) || Date.now() + pause > deadline)
            throw unavailable(`JetStream did not acknowledge them (${message})`);
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    },
  };
}

/** Whether JetStream's answer says it may answer again shortly (no stream leader now, or a timeout). */
function electing(message: string): boolean {
  return /no responders|jetstream is not enabled|timeout|timed out|leader/i.test(message);
}
