/**
 * Everything a role decides about NATS at start, in order: connect (or fail with the fix), read the
 * sync policy when a monitoring URL is given, choose the replicas, refuse a server that loses
 * replicated compare-and-set, state the durability and refuse (or warn about) an unsafe one. The
 * store is opened with what this returns; the role prints `statement` and the warnings.
 */

import type { Durability } from "../store.ts";
import { type ConnectNatsOptions, connectNats, type NatsLink } from "./connect.ts";
import {
  assertCasSafe,
  assertDurable,
  type DurabilityMode,
  durabilityOf,
  resolveReplicas,
  slowPendingWarning,
} from "./durability.ts";
import type { NatsOptions } from "./nats-options.ts";
import { readServerSync, type ServerSync } from "./sync-policy.ts";

/** A connected deployment and what it guarantees. */
export interface NatsDeployment {
  readonly link: NatsLink;
  /** Replicas for every stream and KV bucket. */
  readonly replicas: number;
  readonly durability: Durability;
  /** The line every role prints at start: where, and what an acknowledged event survives. */
  readonly statement: string;
  /** Things to print as warnings (lazy fsync accepted or in dev; fewer servers up than replicas). */
  readonly warnings: readonly string[];
}

/**
 * Connects and decides replicas and durability for a role (`mode`). Throws a PalisadeError with the
 * fix when NATS is unreachable, the monitor is wrong, `--replicas` cannot be met, the server loses
 * replicated compare-and-set, or the deployment is unsafe for `start`, `worker` or `gateway`.
 */
export async function openNatsDeployment(
  options: NatsOptions,
  more: ConnectNatsOptions & { mode: DurabilityMode },
): Promise<NatsDeployment> {
  const link = await connectNats(options, more);
  try {
    const sync: ServerSync | undefined =
      options.monitor === undefined ? undefined : await readServerSync(options.monitor, link);
    const fromMonitor = sync?.clusterSize !== undefined;
    const size = sync?.clusterSize ?? link.clusterSize;
    const replicas = resolveReplicas(options.replicas, {
      cluster: link.cluster,
      size,
      sizeFrom: fromMonitor ? "monitor" : "info",
    });
    assertCasSafe(link.version, replicas);
    const durability = durabilityOf({
      version: link.version,
      replicas,
      ...(sync === undefined ? {} : { syncAlways: sync.syncAlways }),
      ...(sync?.syncIntervalMs === undefined ? {} : { syncIntervalMs: sync.syncIntervalMs }),
    });
    const warnings: string[] = [];
    const lazy = assertDurable(durability, { acceptLazyFsync: options.acceptLazyFsync, mode: more.mode });
    if (lazy !== undefined) warnings.push(lazy);
    const slow = slowPendingWarning(link.version);
    if (slow !== undefined && more.mode !== "operator") warnings.push(slow);
    if (!fromMonitor && link.cluster !== undefined && replicas > size)
      warnings.push(
        `NATS cluster "${link.cluster}" advertises ${size} server(s) up, fewer than --replicas ${replicas}: creating streams fails until enough servers are up`,
      );
    const where = link.cluster === undefined ? "" : ` (cluster "${link.cluster}", ${size} servers)`;
    return {
      link,
      replicas,
      durability,
      statement: `NATS JetStream at ${link.display}${where}: ${durability.summary}`,
      warnings,
    };
  } catch (err) {
    await link.close();
    throw err;
  }
}
