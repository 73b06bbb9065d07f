import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import ipaddr from "ipaddr.js";
import { DIST_DIR } from "../../app-files.ts";
import { checkGate, runChecks } from "../../guard/index.ts";
import { loadApp, type TlsSpec } from "../../manifest/index.ts";
import { createLogger, type LogLevelName } from "../../observe/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import type { NatsFlags, PlatformOps, Role } from "../platform-ops.ts";
import { usageError } from "../usage-error.ts";
import { guardServe } from "./serve-guard.ts";

export interface StartOptions extends NatsFlags {
  port: number;
  host: string;
  logLevel: LogLevelName;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecureHttp?: boolean;
  /** Run a bundle signed before the one last run for its function (a deliberate rollback). */
  allowDowngrade?: boolean;
  /** Make a new audit key though the audit log has checkpoints signed by one that is missing. */
  newAuditKey?: boolean;
}

/**
 * `palisade start [dir]`: production. Runs only the signed bundles `palisade build` left in dist/
 * (a function whose bundle does not verify stays unavailable, the others run), needs the app's
 * master key to exist (PALISADE_MASTER_KEY or keys/master.key), refuses a bundle built before the one
 * last run for its function unless --allow-downgrade (that function stays unavailable), refuses to
 * run an app whose audit log has signed checkpoints without its audit key (keys/audit.key) unless
 * --new-audit-key, refuses to listen without TLS
 * on anything but loopback unless --insecure-http says a proxy in front terminates TLS.
 */
export async function runStart(
  dir: string,
  opts: StartOptions,
  ops: PlatformOps,
  role: Role = "all",
): Promise<number> {
  const tls = tlsFiles(opts);
  const nats = natsFlags(opts);
  if (role !== "all" && nats === undefined)
    throw usageError(
      `palisade ${role} runs one role of a scale-out deployment and needs NATS JetStream: pass --nats <url> or set PALISADE_NATS_URL (use palisade start for one machine)`,
    );
  const appDir = resolve(dir);
  if (!existsSync(join(appDir, DIST_DIR)))
    throw usageError(`No signed bundles in ${join(appDir, DIST_DIR)}; run palisade build ${dir} first`);
  if (
    !isLoopback(opts.host) &&
    tls === undefined &&
    loadApp(appDir).tls === undefined &&
    !opts.insecureHttp
  ) {
    throw usageError(
      `Refusing to listen on ${opts.host} without TLS: anyone on the network could read events and API keys. ` +
        "Pass --tls-cert FILE --tls-key FILE (or set tls: in palisade.yaml), or --insecure-http if a proxy in front terminates TLS",
    );
  }
  // gateway and worker nodes of one deployment may share a machine and an app directory
  const lockDir = role === "all" && nats === undefined ? loadApp(appDir).dataDir : undefined;
  return guardServe(
    { command: "start", lockDir, host: opts.host, port: opts.port }, // every role serves /healthz on it
    () => serveStart(appDir, opts, ops, role, { tls, nats }),
  );
}

async function serveStart(
  appDir: string,
  opts: StartOptions,
  ops: PlatformOps,
  role: Role,
  { tls, nats }: { tls: ReturnType<typeof tlsFiles>; nats: NatsFlags | undefined },
): Promise<number> {
  const prepared = await ops.prepareApp(appDir, false, true, opts.allowDowngrade === true);
  // The guardrails gate: unwaived high findings refuse the start, each named with its fix.
  const refusal = checkGate(
    await runChecks(prepared.app, {
      host: opts.host,
      tls: tls !== undefined,
      insecureHttp: opts.insecureHttp === true,
    }),
    "start",
  );
  if (refusal !== undefined) throw refusal;
  const logger = createLogger({ level: opts.logLevel });
  const platform = await ops.startPlatform(
    {
      appDir,
      logger,
      port: opts.port,
      host: opts.host,
      createKeys: false,
      createAuditKey: opts.newAuditKey === true,
      role,
      mode: "start",
      ...(nats ? { nats } : {}),
      ...(tls ? { tls } : {}),
    },
    prepared,
  );
  await new Promise<void>((done) => {
    process.once("SIGINT", () => done());
    process.once("SIGTERM", () => done());
  });
  await platform.close();
  logger.flush();
  return EXIT_OK;
}

/** The NATS flags when NATS is asked for (`--nats` or PALISADE_NATS_URL), shared with dev. */
export function natsFlags(opts: NatsFlags): NatsFlags | undefined {
  if (opts.nats === undefined || opts.nats === "") {
    const stray = (["natsCreds", "natsCa", "natsMonitor", "replicas", "acceptLazyFsync"] as const).find(
      (k) => opts[k] !== undefined,
    );
    if (stray !== undefined)
      throw usageError(
        `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} only applies with --nats <url> (or PALISADE_NATS_URL)`,
      );
    return undefined;
  }
  const { nats, natsCreds, natsCa, natsMonitor, replicas, acceptLazyFsync } = opts;
  return {
    nats,
    ...(natsCreds === undefined ? {} : { natsCreds: resolve(natsCreds) }),
    ...(natsCa === undefined ? {} : { natsCa: resolve(natsCa) }),
    ...(natsMonitor === undefined ? {} : { natsMonitor }),
    ...(replicas === undefined ? {} : { replicas }),
    ...(acceptLazyFsync === undefined ? {} : { acceptLazyFsync }),
  };
}

/** TLS files from the flags (shared with dev); both or neither of cert and key. */
export function tlsFiles(opts: {
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}): TlsSpec | undefined {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined))
    throw usageError("Give both --tls-cert and --tls-key, or neither");
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) {
    if (opts.tlsClientCa !== undefined) throw usageError("--tls-client-ca needs --tls-cert and --tls-key");
    return undefined;
  }
  return {
    cert: resolve(opts.tlsCert),
    key: resolve(opts.tlsKey),
    ...(opts.tlsClientCa === undefined ? {} : { clientCa: resolve(opts.tlsClientCa) }),
  };
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  return ipaddr.isValid(host) && ipaddr.process(host).range() === "loopback";
}
