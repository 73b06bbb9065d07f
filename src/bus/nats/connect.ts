/**
 * Dialing NATS. At start a role must know at once whether the broker is there: `connectNats` tries
 * every seed server, and when none answers (or the credentials, TLS or JetStream are wrong) it fails
 * with the seed list (passwords redacted) and the fix. Once connected it reconnects forever, so a
 * broker restart or a failover costs a pause, never the process. It reports what the server says of
 * itself (version, cluster) for the replica and durability decisions.
 */
import { isIP } from "node:net";
import { hostname } from "node:os";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { PalisadeError } from "../../errors.ts";
import { NATS_AUTH, NATS_NO_JETSTREAM, NATS_TLS, NATS_UNREACHABLE } from "./connect-errors.ts";
import type { NatsOptions } from "./nats-options.ts";

/** The little of a logger this needs (the app's pino logger fits). */
export interface NatsLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** A live connection and what the server told about itself. */
export interface NatsLink {
  readonly nc: NatsConnection;
  /** The seed list, passwords redacted. */
  readonly display: string;
  /** The version of the server first connected to, e.g. "2.10.27". */
  readonly version: string;
  /** Its `server_name`. */
  readonly serverName: string;
  /** The cluster name when the server is routed to others; undefined for a lone server. */
  readonly cluster: string | undefined;
  /** Servers in the cluster that the server advertised (INFO `connect_urls`); 1 for a lone server. */
  readonly clusterSize: number;
  /** Drains and closes the connection. */
  close(): Promise<void>;
}

export interface ConnectNatsOptions {
  logger?: NatsLogger;
  /** The client name servers show in their connection lists. @default "palisade <host> <pid>" */
  name?: string;
  /** How long to wait for JetStream to answer at start (a forming cluster elects a leader first). @default 15000 */
  jetStreamWaitMs?: number;
}

/** Wait between reconnect attempts, plus up to RECONNECT_JITTER_MS. */
export const RECONNECT_WAIT_MS = 1_000;
const RECONNECT_JITTER_MS = 500;
/** A connection that answers no ping for PING_INTERVAL_MS × MAX_PINGS_OUT is stale: reconnect. */
const PING_INTERVAL_MS = 5_000;
const MAX_PINGS_OUT = 3;
const CLOSE_WAIT_MS = 5_000;
const FIX_START = "start nats-server with JetStream (nats-server -js) or pass --nats <url>";

/**
 * Connects to one of the seed servers, checks that JetStream answers, and returns the connection
 * with the server's version and cluster. Throws PAL_NATS_UNREACHABLE, PAL_NATS_AUTH, PAL_NATS_TLS or
 * PAL_NATS_NO_JETSTREAM with the (redacted) URLs and the fix.
 */
export async function connectNats(options: NatsOptions, more: ConnectNatsOptions = {}): Promise<NatsLink> {
  const { logger } = more;
  const settings: NodeConnectionOptions = {
    servers: [...options.servers],
    name: more.name ?? `palisade ${hostname()} ${process.pid}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: RECONNECT_WAIT_MS,
    reconnectJitter: RECONNECT_JITTER_MS,
    reconnectJitterTLS: RECONNECT_JITTER_MS,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: MAX_PINGS_OUT,
    timeout: 5_000,
    // Every request and publish otherwise builds two Error objects (stack traces) up front, in case
    // it fails: a sixth of the platform's CPU per event on NATS. Failures still carry their cause.
    noAsyncTraces: true,
    ...(options.authenticator === undefined ? {} : { authenticator: options.authenticator }),
    ...(options.tls === undefined ? {} : { tls: tlsOptions(options) }),
  };
  let nc: NatsConnection;
  try {
    nc = await connect(settings);
  } catch (err) {
    throw connectError(options.display, err);
  }
  try {
    await checkJetStream(nc, options.display, more.jetStreamWaitMs ?? 15_000);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
  const info = nc.info;
  const urls = new Set(info?.connect_urls ?? []);
  const link: NatsLink = {
    nc,
    display: options.display,
    version: info?.version ?? "0.0.0",
    serverName: info?.server_name ?? "",
    cluster: info?.cluster,
    clusterSize: info?.cluster === undefined ? 1 : Math.max(urls.size, 1),
    async close() {
      if (nc.isClosed()) return;
      // Draining waits for the server; a process shutting down while NATS is away must not hang.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      });
      await Promise.race([nc.drain().catch(() => undefined), late]);
      clearTimeout(timer);
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    },
  };
  if (logger !== undefined) watchStatus(nc, logger);
  return link;
}

/** JetStream must answer for this account; a forming cluster may take a few seconds to elect. */
async function checkJetStream(nc: NatsConnection, display: string, waitMs: number): Promise<void> {
  if (nc.info?.jetstream !== true)
    throw new PalisadeError(
      NATS_NO_JETSTREAM,
      `NATS at ${display} runs without JetStream: start nats-server with -js (or a jetstream {} block in its config)`,
    );
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5_000 });
      await jsm.getAccountInfo();
      return;
    } catch (err) {
      const text = String((err as Error)?.message ?? err);
      const notEnabled = /not enabled|no responders/i.test(text);
      if (notEnabled || Date.now() >= deadline)
        throw new PalisadeError(
          NATS_NO_JETSTREAM,
          notEnabled
            ? `NATS at ${display} has no JetStream for this account (${text}): enable JetStream on the server (-js) and for the account (jetstream: enabled)`
            : `JetStream at ${display} did not answer within ${Math.round(waitMs / 1000)} s (${text}): check that the cluster has a quorum of servers up`,
          { retryable: true, cause: err },
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** The PalisadeError for a failed first connect: what went wrong, at which (redacted) URLs, and the fix. */
export function connectError(display: string, err: unknown): PalisadeError {
  const e = err as {
    name?: string;
    message?: string;
    code?: string;
    cause?: { code?: string; message?: string };
  };
  const message = String(e?.message ?? err);
  const code = e?.code ?? e?.cause?.code ?? "";
  if (e?.name === "AuthorizationError" || /authorization violation|authentication/i.test(message))
    return new PalisadeError(
      NATS_AUTH,
      `NATS at ${display} refused the credentials (${message}): check the user and password in --nats, or the --nats-creds file`,
      { cause: err },
    );
  if (/tls|certificate|self[- ]signed|ssl/i.test(`${message} ${code}`) || code.startsWith("ERR_TLS"))
    return new PalisadeError(
      NATS_TLS,
      /not available/i.test(message)
        ? `NATS at ${display} does not offer TLS (${message}): use nats:// URLs without --nats-ca, or enable tls on the server`
        : `Cannot verify the TLS connection to NATS at ${display} (${message}): pass --nats-ca <file> with the CA that signed the server's certificate`,
      { cause: err },
    );
  const why =
    code === "ECONNREFUSED" || /refused/i.test(message)
      ? "connection refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? "host not found"
        : /timeout|timed out/i.test(message) || code === "ETIMEDOUT"
          ? "timed out"
          : message;
  return new PalisadeError(NATS_UNREACHABLE, `Cannot reach NATS at ${display} (${why}): ${FIX_START}`, {
    retryable: true,
    cause: err,
  });
}

/** TLS settings; the Node transport hands its `tls` object to `tls.connect`, so Node's options apply. */
function tlsOptions(options: NatsOptions): NonNullable<NodeConnectionOptions["tls"]> {
  const node = { ...options.tls, checkServerIdentity: identityCheck(options) };
  return node;
}

/**
 * The server name check of TLS. The client names a server by its DNS name when it has one, and then
 * the certificate must match it (Node's check). For an IP seed it passes no name (RFC 6066 forbids IP
 * server names) and Node would check "localhost"; then a certificate for any IP of the seed list
 * passes. The chain is verified against --nats-ca (or the system CAs) either way.
 */
function identityCheck(options: NatsOptions): (host: string, cert: PeerCertificate) => Error | undefined {
  const ips = options.servers
    .map((s) => new URL(s).hostname.replace(/^\[|\]$/g, ""))
    .filter((h) => isIP(h) !== 0);
  return (host, cert) => {
    const strict = checkServerIdentity(host, cert);
    if (strict === undefined || host !== "localhost") return strict;
    return ips.some((ip) => checkServerIdentity(ip, cert) === undefined) ? undefined : strict;
  };
}

function watchStatus(nc: NatsConnection, logger: NatsLogger): void {
  const watch = async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") logger.warn({ server: s.server }, "NATS connection lost; reconnecting");
      else if (s.type === "reconnect") logger.info({ server: s.server }, "NATS connection restored");
      else if (s.type === "ldm") logger.warn({ server: s.server }, "NATS server entering lame duck mode");
      else if (s.type === "error") logger.warn({ error: s.error.message }, "NATS connection error");
    }
  };
  watch().catch(() => undefined);
}
