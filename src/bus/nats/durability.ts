/**
 * What a NATS deployment guarantees about an acknowledged write, decided at start and printed by
 * every role (DESIGN §8: durability is stated, not assumed). JetStream acknowledges before fsync by
 * default (`sync_interval` 2 minutes): a write is safe against one machine's crash when it is on 3
 * replicas (a quorum of 2 holds it) or when the server syncs every write (`sync_interval: always`,
 * nats-server >= 2.10). Also the version policy: nats-server before 2.9.21 loses compare-and-set
 * updates on replicated KV buckets (measured on Debian bookworm's 2.9.10: R3 loses them, R1 is right).
 */
import { PalisadeError } from "../../errors.ts";
import type { Durability } from "../store.ts";
import { NATS_CAS_UNSAFE, NATS_NOT_DURABLE, NATS_REPLICAS_INVALID } from "./connect-errors.ts";
import { MAX_REPLICAS } from "./nats-options.ts";

/** The first nats-server whose replicated KV compare-and-set keeps every update. */
export const CAS_SAFE_VERSION = "2.9.21";
/** The first nats-server that can sync every write (`sync_interval: always`). */
export const SYNC_ALWAYS_VERSION = "2.10.0";
/** Replicas that make an acknowledged write survive one server's crash without fsync. */
export const SAFE_REPLICAS = 3;

/** A version string ("v2.10.27", "2.9.10-beta") as [major, minor, patch]; unknown parts are 0. */
export function parseVersion(version: string): [number, number, number] {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  return m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** Negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [parseVersion(a), parseVersion(b)];
  for (let i = 0; i < 3; i++)
    if ((x[i] as number) !== (y[i] as number)) return (x[i] as number) - (y[i] as number);
  return 0;
}

/** Refuses replicated KV compare-and-set (shared counters, rate limits, budgets) on nats-server < 2.9.21. */
export function assertCasSafe(version: string, replicas: number): void {
  if (replicas <= 1 || compareVersions(version, CAS_SAFE_VERSION) >= 0) return;
  throw new PalisadeError(
    NATS_CAS_UNSAFE,
    `nats-server ${version} loses compare-and-set updates on replicated KV buckets (fixed in ${CAS_SAFE_VERSION}); ` +
      `Palisade's budgets, rate limits and leases need them with --replicas ${replicas}: ` +
      `upgrade nats-server to ${CAS_SAFE_VERSION} or later, or run with --replicas 1`,
  );
}

/** The first nats-server whose consumer info does not scan the stream for a wildcard filter. */
export const FAST_PENDING_VERSION = "2.10.0";

/**
 * A warning for nats-server < 2.10: each event has a subject of its own, and before 2.10 counting
 * a filtered consumer's pending messages walks every subject (measured: 7.5 ms per consumer info
 * at 30,000 events on 2.9.10, 0.3 ms on 2.10.27), which every role does every 2 s for its gauges.
 */
export function slowPendingWarning(version: string): string | undefined {
  if (compareVersions(version, FAST_PENDING_VERSION) >= 0) return undefined;
  return `nats-server ${version} counts pending deliveries in time that grows with the stream (one subject per event); upgrade nats-server to ${FAST_PENDING_VERSION} or later`;
}

/** What the connected deployment looks like, for choosing replicas. */
export interface ClusterFacts {
  /** The cluster name, or undefined for a lone server. */
  readonly cluster: string | undefined;
  /** Servers in the cluster. */
  readonly size: number;
  /** Where `size` comes from: the monitoring endpoint knows every peer, INFO only those up now. */
  readonly sizeFrom: "monitor" | "info";
}

/**
 * The replica count: `--replicas` if given, else 3 in a cluster and 1 on a lone server. Throws when
 * the flag asks for more servers than there are: always on a lone server, and in a cluster when the
 * monitoring endpoint counted its peers (INFO only lists the servers up now, so a node down at start
 * must not refuse it: creating a stream then fails with the server's own message).
 */
export function resolveReplicas(flag: number | undefined, facts: ClusterFacts): number {
  const replicas = flag ?? (facts.cluster === undefined ? 1 : SAFE_REPLICAS);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS)
    throw new PalisadeError(
      NATS_REPLICAS_INVALID,
      `Cannot use --replicas ${replicas}: use 1 to ${MAX_REPLICAS}`,
      {
        status: 400,
      },
    );
  const known = facts.cluster === undefined || facts.sizeFrom === "monitor";
  if (known && replicas > facts.size)
    throw new PalisadeError(
      NATS_REPLICAS_INVALID,
      facts.cluster === undefined
        ? `Cannot keep ${replicas} replicas on a lone nats-server: pass --replicas 1, or run a cluster of ${replicas} or more`
        : `Cannot keep ${replicas} replicas in NATS cluster "${facts.cluster}" of ${facts.size} servers: pass --replicas ${facts.size} or less, or add servers`,
      { status: 400 },
    );
  return replicas;
}

/** What the server does about fsync, as far as anyone could tell. */
export interface DurabilityFacts {
  readonly version: string;
  readonly replicas: number;
  /** True: syncs every write; false: syncs on a timer; undefined: not known (assumed lazy). */
  readonly syncAlways?: boolean;
  /** The timer, when known. */
  readonly syncIntervalMs?: number;
}

/** The deployment's durability statement (`Durability` of store.ts): summary and whether it is safe. */
export function durabilityOf(facts: DurabilityFacts): Durability {
  const { version, replicas } = facts;
  const syncAlways =
    facts.syncAlways ?? (compareVersions(version, SYNC_ALWAYS_VERSION) < 0 ? false : undefined);
  const copies =
    replicas === 1
      ? "R1 (one server holds each event)"
      : `R${replicas} (each event on ${replicas} servers before the ack)`;
  const sync =
    syncAlways === true
      ? "syncs every write to disk"
      : syncAlways === false
        ? facts.syncIntervalMs !== undefined
          ? `syncs to disk every ${formatDuration(facts.syncIntervalMs)}`
          : "syncs to disk on a timer (before 2.10 it cannot sync every write)"
        : "sync policy unknown (assumed lazy; pass --nats-monitor to read it)";
  const safe = replicas >= SAFE_REPLICAS || syncAlways === true;
  const risk = safe
    ? replicas >= SAFE_REPLICAS
      ? "an acknowledged event survives the crash of one server"
      : "an acknowledged event is on disk"
    : "acknowledged events not yet synced are lost if that machine crashes";
  return { backend: "nats", summary: `${copies}, nats-server ${version} ${sync}: ${risk}`, safe };
}

/**
 * Who is starting: `start`, `worker` and `gateway` refuse an unsafe stream, `dev` warns, and an
 * operator command (`dlq`, `replay`, `audit`, … with `--nats`) accepts no events, so it says nothing.
 */
export type DurabilityMode = "start" | "worker" | "gateway" | "dev" | "operator";

/**
 * Refuses (PAL_NATS_NOT_DURABLE) an unsafe deployment for `start`, `worker` and `gateway` unless
 * `--accept-lazy-fsync`; otherwise returns the warning to print (undefined when safe). The gateway
 * refuses too: its 202 is the promise that the event is kept, so it is the role the guarantee is for.
 */
export function assertDurable(
  durability: Durability,
  options: { acceptLazyFsync: boolean; mode: DurabilityMode },
): string | undefined {
  if (durability.safe || options.mode === "operator") return undefined;
  const fixes =
    "run a NATS cluster of 3 with --replicas 3, or set sync_interval: always in the servers' jetstream block " +
    "(nats-server >= 2.10) and pass --nats-monitor <url> so Palisade can read it";
  if (options.mode !== "dev" && !options.acceptLazyFsync)
    throw new PalisadeError(
      NATS_NOT_DURABLE,
      `Refusing to run ${options.mode} on NATS that does not keep acknowledged events through a crash: ` +
        `${durability.summary}. Fix: ${fixes}; or pass --accept-lazy-fsync to accept the risk`,
    );
  return `NATS durability: ${durability.summary}. ${options.acceptLazyFsync ? "Accepted with --accept-lazy-fsync" : "To fix"}: ${fixes}`;
}

/** 120000 → "2m0s", 1500 → "1.5s" (as nats-server writes durations). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return m < 60 ? `${m}m${rest}s` : `${Math.floor(m / 60)}h${m % 60}m${rest}s`;
}
