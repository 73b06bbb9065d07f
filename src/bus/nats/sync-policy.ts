/**
 * The servers' fsync policy, read from their monitoring endpoint. A client cannot learn it over the
 * NATS protocol: INFO does not carry it, and `$SYS.REQ.SERVER.PING.VARZ` answers only the system
 * account, which an app's credentials should not hold. /varz does: `jetstream.config.sync_interval`
 * (nanoseconds) and `sync_always` (nats-server >= 2.10; 2.9 has neither field and cannot sync every
 * write), and `jetstream.meta.cluster_size` counts every JetStream peer, down ones included. Without
 * `--nats-monitor` the policy is reported unknown and assumed lazy.
 */
import { PalisadeError } from "../../errors.ts";
import { NATS_MONITOR } from "./connect-errors.ts";
import { redactUrl } from "./redact-url.ts";

/** What the monitoring endpoints say. */
export interface ServerSync {
  /** True only when every server read syncs every write. */
  readonly syncAlways: boolean;
  /** The longest timer among them; undefined on servers that do not report it (< 2.10). */
  readonly syncIntervalMs?: number;
  /** JetStream peers in the cluster (`jetstream.meta.cluster_size`), when clustered. */
  readonly clusterSize?: number;
}

/** Which deployment the client is connected to: a monitor must belong to it. */
export interface ConnectedServer {
  readonly cluster: string | undefined;
  readonly serverName: string;
}

/**
 * Reads /varz of each monitoring URL and combines them. Throws PAL_NATS_MONITOR when one does not
 * answer, or belongs to another cluster or server than the one connected to (a wrong URL would print
 * a guarantee the deployment does not give).
 */
export async function readServerSync(
  monitors: readonly string[],
  connected: ConnectedServer,
  timeoutMs = 5_000,
): Promise<ServerSync> {
  const all = await Promise.all(monitors.map((m) => readVarz(m, connected, timeoutMs)));
  const intervals = all.flatMap((v) => (v.syncIntervalMs === undefined ? [] : [v.syncIntervalMs]));
  const sizes = all.flatMap((v) => (v.clusterSize === undefined ? [] : [v.clusterSize]));
  return {
    syncAlways: all.every((v) => v.syncAlways),
    ...(intervals.length === 0 ? {} : { syncIntervalMs: Math.max(...intervals) }),
    ...(sizes.length === 0 ? {} : { clusterSize: Math.max(...sizes) }),
  };
}

interface Varz {
  server_name?: string;
  cluster?: { name?: string };
  jetstream?: {
    config?: { sync_interval?: number; sync_always?: boolean };
    meta?: { cluster_size?: number };
  };
}

async function readVarz(monitor: string, connected: ConnectedServer, timeoutMs: number): Promise<ServerSync> {
  const shown = redactUrl(monitor);
  const url = new URL(monitor);
  const headers: Record<string, string> = {};
  if (url.username !== "") {
    // fetch refuses URLs with credentials: send them as HTTP basic authentication instead.
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/varz`;
  let varz: Varz;
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    varz = (await res.json()) as Varz;
  } catch (err) {
    throw new PalisadeError(
      NATS_MONITOR,
      `Cannot read the NATS monitoring endpoint ${shown}/varz (${(err as Error).message}): pass --nats-monitor with the servers' monitoring URL (nats-server -m 8222), or leave it out to report the sync policy as unknown`,
      { cause: err },
    );
  }
  const cluster = varz.cluster?.name === "" ? undefined : varz.cluster?.name;
  const same =
    connected.cluster !== undefined
      ? cluster === connected.cluster
      : varz.server_name === connected.serverName;
  if (!same)
    throw new PalisadeError(
      NATS_MONITOR,
      `The NATS monitoring endpoint ${shown} belongs to ${cluster === undefined ? `server "${varz.server_name}"` : `cluster "${cluster}"`}, not to the ${connected.cluster === undefined ? `server "${connected.serverName}"` : `cluster "${connected.cluster}"`} Palisade connected to: pass the monitoring URL of the same servers as --nats`,
    );
  const config = varz.jetstream?.config ?? {};
  const size = varz.jetstream?.meta?.cluster_size;
  return {
    syncAlways: config.sync_always === true,
    ...(typeof config.sync_interval === "number" ? { syncIntervalMs: config.sync_interval / 1e6 } : {}),
    ...(cluster !== undefined && typeof size === "number" ? { clusterSize: size } : {}),
  };
}
