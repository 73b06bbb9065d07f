/**
 * Composition root: loads the app, builds each domain, wires them along the data path and starts
 * (`startPlatform`), and hands the CLI the platform operations its commands call (`runCli`, run by
 * `bin/palisade.js`). Nothing here decides policy; it only connects the pieces. No file in `src/`
 * imports this one (`npm run arch` enforces it); tests and benchmarks may.
 */

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { openAppAdmin } from "./app-admin.ts";
import { openAppCosts } from "./app-costs.ts";
import { createAppDispatcher } from "./app-dispatcher.ts";
import {
  appMasterKey,
  GATEWAY_FILE,
  KV_FILE,
  manifestDigest,
  openAppAudit,
  openNatsAppAudit,
  TRACES_FILE,
} from "./app-files.ts";
import { openAppKeys } from "./app-keys.ts";
import { AUDIT_KIND, type AuditLog, aggregateRepeats, ensureAuditKey } from "./audit/index.ts";
import { createScheduler, type Dispatcher, type NatsFlags } from "./bus/index.ts";
import { main as cliMain } from "./cli/index.ts";
import { type Closers, createClosers } from "./closers.ts";
import { createDataPath, schedulePrincipal } from "./data-path.ts";
import { type Detection, openDetection } from "./detection.ts";
import { PalisadeError, toPalisadeError } from "./errors.ts";
import { nextTraceparent, PLATFORM_EVENT_TYPES } from "./events/index.ts";
import { openCapabilities, startPools } from "./function-runtime.ts";
import {
  createAuthenticator,
  createGateway,
  createMemoryRateLimitStore,
  createOpsServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  webhookPrincipal,
} from "./gateway/index.ts";
import { startHousekeeping } from "./housekeeping.ts";
import { invokeOnce } from "./invoke-once.ts";
import { KV_ROLLED_BACK } from "./kv/index.ts";
import { type AppModel, DEFAULT_RATE_LIMIT, type TlsSpec } from "./manifest/index.ts";
import {
  checkTracingEnv,
  createMetrics,
  createTracing,
  type Logger,
  type Metrics,
  natsTraceExporter,
  noTracing,
  resetGauges,
  traceStoreExporter,
} from "./observe/index.ts";
import { type AppStore, EVENTS_FILE, openStore } from "./open-store.ts";
import { buildSigned, type PreparedApp, prepareApp, removeDeadBuilds, schemasOf } from "./prepare-app.ts";
import type { SandboxPool } from "./runtime/index.ts";
import { openScaleOut, type Role } from "./scale-out.ts";
import { createSchemaRegistry } from "./schema/index.ts";
import { createAuthorizer, ensureEventKey } from "./security/index.ts";
import { createKeptSignals } from "./signal-sinks.ts";
import { createSinkDelivery } from "./sinks/index.ts";

export * from "./app-files.ts";
export {
  type OpenCapabilities,
  openCapabilities,
  type PreparedFunction,
  startPools,
} from "./function-runtime.ts";
export { DEFAULT_HOST, DEFAULT_PORT } from "./gateway/index.ts";
export { invokeOnce } from "./invoke-once.ts";
export { type AppStore, openStore, subscriptionsOf } from "./open-store.ts";
export { buildSigned, type PreparedApp, prepareApp, schemasOf } from "./prepare-app.ts";

/** Runs the `palisade` command with `argv` (without node and script); resolves to the exit code. */
export function runCli(argv: string[]): Promise<number> {
  return cliMain(argv, { prepareApp, startPlatform, buildSigned, invokeOnce });
}

export interface PlatformOptions {
  appDir: string;
  logger: Logger;
  /** @default 8787; 0 picks a free port */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Register schema changes that would reject events the previous version accepted. @default false */
  allowBreaking?: boolean;
  /** TLS from the command line (`--tls-cert`, `--tls-key`, `--tls-client-ca`); overrides `tls:`. */
  tls?: TlsFiles;
  /** Create the master key if the app has none (dev); `start` refuses instead. @default true */
  createKeys?: boolean;
  /**
   * Create the audit key if the app has none though its audit log has signed checkpoints (dev;
   * `start --new-audit-key`). A new app gets one either way. @default createKeys
   */
  createAuditKey?: boolean;
  /**
   * Encrypt at rest. Always on in `dev` and `start`; off only so the benchmark can measure what
   * encryption costs. @default true
   */
  encryptAtRest?: boolean;
  /**
   * Record spans (recent-traces store, OTLP when configured) and the audit log. Off only in the
   * benchmark, to measure what they cost. @default true
   */
  tracing?: boolean;
  /** More span exporters, each span as it ends (tests use an in-memory one). */
  spanExporters?: readonly SpanExporter[];
  /**
   * The metrics to count into; `dev` passes the same set to every reload so counters survive it.
   * @default a new set
   */
  metrics?: Metrics;
  /** Which parts run here: all (one process), ingress only, or dispatch only. @default "all" */
  role?: Role;
  /** `dev` warns where `start` refuses (a stream neither replicated nor synced). @default "dev" */
  mode?: "dev" | "start";
  /** Run on NATS JetStream (`--nats` and its flags; PALISADE_NATS_URL also asks for it). */
  nats?: NatsFlags;
}

export interface Platform {
  readonly app: AppModel;
  readonly url: string;
  /** The app's store (what tests and the benchmark read back through). */
  readonly store: AppStore;
  close(): Promise<void>;
}

/** Certificate, key and (for mTLS) client CA files of the gateway. */
export type TlsFiles = TlsSpec;

/** Starts gateway, dispatcher and sandboxes in this process (preparing the app first unless given). */
export async function startPlatform(options: PlatformOptions, prepared?: PreparedApp): Promise<Platform> {
  const ready = prepared ?? (await prepareApp(options.appDir, options.allowBreaking));
  const { buildDir } = ready;
  const closers = createClosers();
  if (buildDir !== undefined) {
    removeDeadBuilds(buildDir);
    closers.add(() => rmSync(buildDir, { recursive: true, force: true }));
  }
  try {
    return await assemblePlatform(options, ready, closers);
  } catch (err) {
    // Whatever was opened before the failure (lease, stores, sandboxes, timers) is closed again.
    await closers.closeAll().catch((closeErr: unknown) => {
      options.logger.error({ err: toPalisadeError(closeErr).message }, "cleanup after a failed start failed");
    });
    throw err;
  }
}

/** Opens, wires and starts every piece, registering each one's close in `closers` as it goes. */
async function assemblePlatform(
  options: PlatformOptions,
  { app, bundles, prebuilt, schemaVersions }: PreparedApp,
  closers: Closers,
): Promise<Platform> {
  const { logger } = options;
  const registry = createSchemaRegistry(
    new Map([...schemasOf(app), ...PLATFORM_EVENT_TYPES]),
    schemaVersions,
  );
  const createKeys = options.createKeys ?? true;
  // A node without its master key is refused before anything else is opened (NATS included).
  const master = appMasterKey(app.dir, createKeys);
  const role = options.role ?? "all";
  // On NATS the key ring and the secret store are the deployment's, shared by every node.
  const mode = options.mode ?? (prebuilt === true ? "start" : "dev");
  const scaleOut = await openScaleOut(app, options.nats ?? {}, { role, mode, logger });
  if (scaleOut !== undefined) closers.add(() => scaleOut.close());
  if (scaleOut === undefined && role !== "all")
    throw new PalisadeError(
      "PAL_USAGE",
      `The ${role} role needs NATS JetStream: pass --nats <url> or set PALISADE_NATS_URL`,
      { status: 400 },
    );
  const { keyRing, secrets, secret, reportTo } = await openAppKeys(app, scaleOut, {
    master,
    createKeys,
    logger,
  });
  const sealer = options.encryptAtRest === false ? undefined : keyRing;
  const webhooks = app.sources.flatMap((s) => (s.kind === "webhook" ? [s] : []));
  const schedules = app.sources.flatMap((s) => (s.kind === "schedule" ? [s] : []));
  for (const s of schedules) registry.assertValid(s.emit, s.data); // a schedule's data must fit its type
  // Ingress keys and webhook secrets must be there at start (not at the first request), but only
  // where there is ingress: a worker neither reads nor needs them.
  const authenticate = role === "worker" ? undefined : createAuthenticator(app.principals, secret);
  if (authenticate !== undefined) for (const hook of webhooks) secret(hook.secret);
  // A sink's credential must be there at start too (it is read again at each delivery: rotation).
  for (const sink of app.sinks.values()) if (sink.auth !== undefined) secret(sink.auth.secret);
  const authorize = createAuthorizer([
    ...app.principals.values(),
    ...webhooks.map((s) => ({ name: webhookPrincipal(s.path), publish: [s.emit] })),
    ...schedules.map((s) => ({ name: schedulePrincipal(s.name), publish: [s.emit] })),
  ]);
  // An OTEL_* setting tracing cannot use (the OTLP protocol, resource attributes) refuses the start.
  if (options.tracing !== false) checkTracingEnv();
  // A signed audit log whose key is missing refuses `start`: restored, not silently replaced.
  if (options.tracing !== false)
    ensureAuditKey(app.dir, options.createAuditKey ?? options.createKeys ?? true);
  // Everything that can refuse the app is checked above; only now are resources opened. The audit
  // log first (it seals with its own key), so it closes last and records every refusal after it.
  // Repeated rejections and refused capability calls are counted, not written one by one. On NATS
  // every node appends its own chain to the deployment's audit stream (nothing at start reads the
  // log back there: the shared secret store keeps its own rollback floor).
  const audit = aggregateRepeats(
    scaleOut === undefined || options.tracing === false
      ? openAppAudit(app, logger, options.tracing === false)
      : openNatsAppAudit(app, await scaleOut.auditStream(), logger),
  );
  closers.add(() => audit.close());
  reportTo(audit);
  // Until close, `keys retire` refuses a data key this platform may still be sealing with.
  const sealing = keyRing.holdLease();
  closers.add(() => sealing.close());
  const store = await openStore(app, { sealer, ...(scaleOut ? { nats: scaleOut.backend } : {}) });
  closers.add(() => store.close());
  reportSignedRows(store, audit, logger);
  const pools = new Map<string, SandboxPool>();
  let dispatcher: Dispatcher | undefined;
  // A `dev` reload hands in the set of the previous start: its counters go on counting.
  const metrics = options.metrics ?? createMetrics();
  if (options.metrics !== undefined) resetGauges(metrics);
  // What happens, as one stream: metrics, the audit log and the log keep it; detectors watch it.
  const signals = createKeptSignals({ logger, metrics, audit });
  audit.record({
    kind: AUDIT_KIND.appStarted,
    outcome: "info",
    details: {
      manifestDigest: manifestDigest(app),
      mode: prebuilt === true ? "start" : "dev",
      functions: [...app.functions.keys()],
    },
  });
  for (const b of bundles) {
    if (b.downgradedFrom !== undefined)
      audit.record({
        kind: AUDIT_KIND.bundleDowngraded,
        subject: b.fn.name,
        outcome: "allowed",
        details: { replacedBuiltAt: b.downgradedFrom, sha256: b.sha256 },
      });
    if (b.refused !== undefined)
      audit.record({
        kind: AUDIT_KIND.bundleRejected,
        subject: b.fn.name,
        outcome: "denied",
        details: { code: b.refused.code, reason: b.refused.message },
      });
  }
  const tracing =
    options.tracing === false
      ? noTracing(nextTraceparent)
      : createTracing({
          // On NATS every node's spans go to the deployment's stream, so a trace reads back whole.
          batched: [
            scaleOut === undefined
              ? traceStoreExporter(join(app.dataDir, TRACES_FILE))
              : natsTraceExporter(await scaleOut.openTraces(), role === "all" ? mode : role),
          ],
          immediate: options.spanExporters ?? [],
          app: app.name,
        });
  closers.add(() => tracing.close());
  // What the platform produces and what leaves it through sinks is signed with its event key.
  const eventKey = ensureEventKey(app.dir);
  const dataPath = createDataPath({
    tracing,
    registry,
    hopLimit: app.hopLimit,
    authorize,
    events: store.events,
    pools,
    onEmitted: (fn, event) => signals.emit({ kind: "event.emitted", fn, event }),
    eventKey,
    ...(app.sinks.size === 0
      ? {}
      : { toSink: createSinkDelivery({ sinks: app.sinks.values(), secret, eventKey }) }),
  });

  const usage = await scaleOut?.openUsage({
    onError: (err) =>
      logger.warn({ err: toPalisadeError(err).message }, "capability use not recorded on NATS yet; retrying"),
  });
  // Held capability targets (detection, opened below once the pools run) are asked before each call.
  let gate: Detection["capability"] | undefined;
  const capabilities = auditRollback(audit, KV_FILE, () =>
    openCapabilities(app, dataPath.emit, logger, keyRing, {
      held: (fn, kind, target, event) => gate?.(fn, kind, target, event),
      metrics,
      encryptAtRest: sealer !== undefined,
      tracing,
      audit,
      secrets,
      usage,
      signals,
    }),
  );
  closers.add(() => capabilities.close());
  closers.add(async () => {
    // Deliveries in flight drain while their sandboxes stop.
    const draining = dispatcher?.close();
    await Promise.all([...pools.values()].map((p) => p.close()));
    await draining;
  });
  // A gateway runs no functions: no sandboxes, dispatcher, schedules or housekeeping.
  if (role !== "gateway") await startPools(app, bundles, capabilities, logger, pools, { metrics, audit });
  // The detectors and the holds they impose: function quarantine and chain holds where functions
  // run (one state for the deployment, consulted by every dispatcher), address blocks where
  // requests come in.
  const detection = await openDetection({
    app,
    signals,
    state: store.state,
    functions: role !== "gateway",
    ingress: authenticate !== undefined,
    dataPath,
    audit,
    metrics,
    logger,
    held: (fn) => pools.get(fn)?.hold(),
    released: (fns) => {
      for (const fn of fns) pools.get(fn)?.release();
      dispatcher?.notify(fns);
    },
    chainsChanged: () => dispatcher?.notify(),
    bundleVersion: (fn) => bundles.find((b) => b.fn.name === fn && b.refused === undefined)?.sha256,
  });
  closers.add(() => detection.close());
  gate = detection.capability;
  // Every attempt priced and counted against its function's and its chain's principal's budget.
  const costs = openAppCosts({ app, state: store.state, signals, dataPath, audit, metrics, logger });
  closers.add(() => costs.close());
  if (role !== "gateway") {
    dispatcher = createAppDispatcher({
      app,
      store,
      dataPath,
      metrics,
      audit,
      logger,
      signals,
      held: detection.quarantined,
      verdict: detection.verdict,
      throttle: detection.functionThrottle,
      affordable: costs.admits,
    });
    closers.add(startHousekeeping({ app, maintenance: store.maintenance, pools, metrics, logger }));
    const scheduler = createScheduler({
      schedules,
      state: store.state,
      fire: (schedule, at) => dataPath.tick(schedule, at),
      onError: (err) => logger.error({ err: toPalisadeError(err).message }, "schedule tick failed"),
    });
    closers.add(() => scheduler.close());
  }
  // The admin API and dashboard (on the gateway), and who may read /metrics (every role).
  const admin = await openAppAdmin({
    app,
    store,
    audit,
    signals,
    metrics,
    logger,
    scaleOut,
    keyRing,
    secrets,
    secret,
    bundles,
    pools,
    ...(authenticate === undefined ? {} : { producers: authenticate }),
    clientBlocked: detection.clientBlocked,
  });
  closers.add(() => admin.close());
  const durability = store.durability.summary;
  const listenOn = { port: options.port ?? DEFAULT_PORT, host: options.host ?? DEFAULT_HOST };
  if (authenticate === undefined) {
    // A worker has no ingress: it serves /healthz, /readyz and /metrics only.
    const ops = createOpsServer({
      metrics,
      logger,
      ...(admin.metricsGuard === undefined ? {} : { metricsGuard: admin.metricsGuard }),
      ...(scaleOut === undefined ? {} : { readiness: scaleOut.readiness }),
    });
    closers.add(() => ops.close());
    const url = await ops.listen(listenOn);
    logger.info(
      { app: app.name, role, url, durability, functions: [...app.functions.keys()] },
      "palisade is running",
    );
    return platformOf(app, url, store, closers);
  }

  const tls = options.tls || app.tls ? readTls({ ...app.tls, ...options.tls } as TlsSpec) : undefined;
  const gateway = createGateway({
    sources: app.sources,
    ...(admin.metricsGuard === undefined ? {} : { metricsGuard: admin.metricsGuard }),
    ingest: dataPath.ingest,
    storedEvents: async (id, principal, source) =>
      (await store.events.find(id))
        .filter((s) => s.event.principal === principal && s.event.source === source)
        .map((s) => s.event),
    authenticate,
    signing: (name) => app.principals.get(name)?.signing,
    principalLimit: (name) =>
      detection.principalLimit(name, app.principals.get(name)?.rateLimit ?? DEFAULT_RATE_LIMIT),
    // Shared by every gateway on NATS; in memory (this process) on the embedded store.
    rateLimits: scaleOut?.rateLimits ?? createMemoryRateLimitStore(),
    ...(scaleOut === undefined ? {} : { readiness: scaleOut.readiness }),
    secret,
    metrics,
    logger,
    // A field the schema lets be a string passes with the string form there: no failure names it.
    acceptsString: (type, data, pointer) =>
      registry.has(type) ? !registry.check(type, data).some((f) => f.pointer === pointer) : undefined,
    clientBlocked: detection.clientBlocked,
    principalHeld: detection.principalHeld,
    principalOverBudget: costs.refuses,
    onAccepted: (a) => signals.emit({ kind: "ingress.accepted", ...a }),
    onRejected: (r) =>
      signals.emit({
        kind: "ingress.rejected",
        ...(r.principal === undefined ? {} : { principal: r.principal }),
        ip: r.ip,
        ...(r.route === undefined ? {} : { route: r.route }),
        reason: r.reason,
        code: r.code,
        status: r.status,
      }),
    ...(tls === undefined ? {} : { tls }),
  });
  admin.register(gateway, tls !== undefined);
  closers.add(() => gateway.close());
  const url = await gateway.listen(listenOn);
  const gatewayFile = join(app.dataDir, GATEWAY_FILE);
  closers.add(() => rmSync(gatewayFile, { force: true }));
  writeFileSync(gatewayFile, `${JSON.stringify({ url, pid: process.pid })}\n`, { mode: 0o600 });
  logger.info(
    {
      app: app.name,
      role,
      url,
      dashboard: `${url}/ui/`,
      durability,
      functions: role === "gateway" ? [] : [...app.functions.keys()],
    },
    "palisade is running",
  );
  return platformOf(app, url, store, closers);
}

function platformOf(app: AppModel, url: string, store: AppStore, closers: Closers): Platform {
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    store,
    close() {
      closing ??= closers.closeAll();
      return closing;
    },
  };
}

/**
 * Delivery rows signed on open are either an upgrade from before rows were authenticated or an
 * attacker's column drop (with the marker file deleted too): either way an operator must see it.
 */
function reportSignedRows(store: AppStore, audit: AuditLog, logger: Logger): void {
  if (store.rowsSigned === 0) return;
  logger.warn(
    { rows: store.rowsSigned },
    "delivery rows without authentication codes were signed; if this log was not just upgraded, restore it from a backup",
  );
  audit.record({
    kind: AUDIT_KIND.deliveryRowsSigned,
    subject: EVENTS_FILE,
    outcome: "allowed",
    details: { rows: store.rowsSigned },
  });
}

/** Runs `open`; a rollback it detects in `file` is recorded in the audit log before the start fails. */
function auditRollback<T>(audit: AuditLog, file: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    const { code, message } = toPalisadeError(err);
    if (code === KV_ROLLED_BACK)
      audit.record({
        kind: AUDIT_KIND.rollbackDetected,
        subject: file,
        outcome: "denied",
        details: { code, message },
      });
    throw err;
  }
}

function readTls(tls: TlsSpec): { cert: string; key: string; ca?: string } {
  const read = (file: string) => readFileSync(file, "utf8");
  return { cert: read(tls.cert), key: read(tls.key), ...(tls.clientCa ? { ca: read(tls.clientCa) } : {}) };
}
