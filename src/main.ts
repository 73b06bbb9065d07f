/**
 * Composition root: load the app, build each domain, wire them along the data path, start.
 * Nothing here decides policy; it only connects the pieces.
 */

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import {
  DIST_DIR,
  GATEWAY_FILE,
  manifestDigest,
  openAppAudit,
  openAppKeyRing,
  openAppSecrets,
  TRACES_FILE,
} from "./app-files.ts";
import { AUDIT_KIND } from "./audit/index.ts";
import {
  createDispatcher,
  createScheduler,
  type Delivery,
  type Dispatcher,
  type Outcome,
  openSqliteEventLog,
  type SqliteEventLog,
} from "./bus/index.ts";
import { createDataPath, schedulePrincipal } from "./data-path.ts";
import { toPalisadeError } from "./errors.ts";
import { compileFilter, type EventFilter, nextTraceparent, PLATFORM_EVENT_TYPES } from "./events/index.ts";
import { openCapabilities, type PreparedFunction, startPools } from "./function-runtime.ts";
import {
  createAuthenticator,
  createGateway,
  createMemoryRateLimitStore,
  webhookPrincipal,
} from "./gateway/index.ts";
import { type AppModel, DEFAULT_RATE_LIMIT, loadApp, type TlsSpec } from "./manifest/index.ts";
import { createMetrics, createTracing, type Logger, noTracing, traceStoreExporter } from "./observe/index.ts";
import { INVOKE_BATCH, type SandboxPool } from "./runtime/index.ts";
import { createSchemaRegistry, openSchemaStore, registerSchemas } from "./schema/index.ts";
import { createAuthorizer, requireSecret } from "./security/index.ts";
import {
  type BuiltFunction,
  buildFunction,
  generateSigningKey,
  loadSigningKey,
  loadTrustedKeys,
  SIGNING_KEY_FILE,
  SIGNING_PUB_FILE,
  signFunction,
  verifyFunction,
} from "./supply/index.ts";

export * from "./app-files.ts";
export {
  type OpenCapabilities,
  openCapabilities,
  type PreparedFunction,
  startPools,
} from "./function-runtime.ts";

/** Default listen address: loopback only (there is no TLS yet). */
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8787;

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
}

export interface Platform {
  readonly app: AppModel;
  readonly url: string;
  readonly log: SqliteEventLog;
  close(): Promise<void>;
}

/** Certificate, key and (for mTLS) client CA files of the gateway. */
export type TlsFiles = TlsSpec;

/** How often the pool-size, pending and DLQ gauges are refreshed. */
const GAUGE_MS = 2000;

/** An app whose manifest is valid and whose functions are bundled: all that can fail before a start. */
export interface PreparedApp {
  readonly app: AppModel;
  /**
   * Every function with its signed bundle directory, or the reason it was refused (a bundle that
   * does not verify stays unavailable; the other functions run).
   */
  readonly bundles: readonly PreparedFunction[];
  /** Directory of this build's bundles (dev), removed when the platform using it closes. */
  readonly buildDir?: string;
  /** Event type → registered schema version in force. */
  readonly schemaVersions: ReadonlyMap<string, number>;
}

/**
 * Loads the manifest, registers changed schemas (refusing breaking changes unless `allowBreaking`)
 * and gets a signed bundle for every function: in dev (`prebuilt` false) it bundles and signs each
 * with the app's signing key (creating one if the app has none) into a fresh build directory; for
 * `palisade start` it takes the bundles `palisade build` left in `dist/`. Either way each bundle is
 * verified against the app's trusted keys (`keys/*.pub`) before anything runs it.
 */
export async function prepareApp(
  appDir: string,
  allowBreaking = false,
  prebuilt = false,
): Promise<PreparedApp> {
  const app = loadApp(appDir);
  mkdirSync(app.dataDir, { recursive: true, mode: 0o700 });
  const store = openSchemaStore(join(app.dataDir, "schemas.db"));
  let schemaVersions: Map<string, number>;
  try {
    schemaVersions = registerSchemas(store, schemasOf(app), allowBreaking);
  } finally {
    store.close();
  }
  if (prebuilt) return { app, bundles: verified(app, join(app.dir, DIST_DIR)), schemaVersions };
  // A fresh directory per build: a sandbox respawned by a running version must load that version's
  // code, never a newer build that was prepared under a different manifest (and different grants).
  const buildDir = join(
    app.dataDir,
    "bundles",
    `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`,
  );
  mkdirSync(buildDir, { recursive: true, mode: 0o700 });
  try {
    await buildSigned(app, buildDir);
  } catch (err) {
    if (buildDir !== undefined) rmSync(buildDir, { recursive: true, force: true });
    throw err;
  }
  return { app, bundles: verified(app, buildDir), buildDir, schemaVersions };
}

/** Bundles and signs every function of `app` into `outDir/<function>/`; returns what was built. */
export async function buildSigned(app: AppModel, outDir: string): Promise<BuiltFunction[]> {
  if (!existsSync(join(app.dir, SIGNING_KEY_FILE)) && !existsSync(join(app.dir, SIGNING_PUB_FILE)))
    generateSigningKey(app.dir);
  const key = loadSigningKey(app.dir);
  const built: BuiltFunction[] = [];
  for (const fn of app.functions.values()) {
    const b = await buildFunction({ name: fn.name, handlerPath: fn.handlerPath, appDir: app.dir, outDir });
    signFunction(b.dir, key);
    built.push(b);
  }
  return built;
}

function verified(app: AppModel, outDir: string): PreparedFunction[] {
  const trusted = loadTrustedKeys(app.dir);
  return [...app.functions.values()].map((fn) => {
    const dir = join(outDir, fn.name);
    try {
      return { fn, dir, bundlePath: verifyFunction(dir, trusted).bundlePath };
    } catch (err) {
      return { fn, dir, refused: toPalisadeError(err) };
    }
  });
}

/** Starts gateway, dispatcher and sandboxes in this process (preparing the app first unless given). */
export async function startPlatform(options: PlatformOptions, prepared?: PreparedApp): Promise<Platform> {
  const { logger } = options;
  const { app, bundles, buildDir, schemaVersions } =
    prepared ?? (await prepareApp(options.appDir, options.allowBreaking));
  if (buildDir !== undefined) removeOtherBuilds(buildDir); // left behind by a killed process
  const registry = createSchemaRegistry(
    new Map([...schemasOf(app), ...PLATFORM_EVENT_TYPES]),
    schemaVersions,
  );
  const keyRing = openAppKeyRing(app.dir, options.createKeys ?? true);
  const sealer = options.encryptAtRest === false ? undefined : keyRing;
  const secrets = openAppSecrets(app.dir, keyRing);
  const secret = (name: string): readonly string[] => {
    const values = secrets.values(name);
    return values.length > 0 ? values : [requireSecret(secrets, name, app.dir)];
  };
  const webhooks = app.sources.flatMap((s) => (s.kind === "webhook" ? [s] : []));
  const schedules = app.sources.flatMap((s) => (s.kind === "schedule" ? [s] : []));
  for (const s of schedules) registry.assertValid(s.emit, s.data); // a schedule's data must fit its type
  for (const hook of webhooks) secret(hook.secret); // fail at start, not at the first delivery
  const authenticate = createAuthenticator(app.principals, secret);
  const authorize = createAuthorizer([
    ...app.principals.values(),
    ...webhooks.map((s) => ({ name: webhookPrincipal(s.path), publish: [s.emit] })),
    ...schedules.map((s) => ({ name: schedulePrincipal(s.name), publish: [s.emit] })),
  ]);
  // Everything that can refuse the app is checked above; only now are resources opened.
  const log = openSqliteEventLog(join(app.dataDir, "events.db"), {
    dedupeWindowMs: app.dedupeWindowSec * 1000,
    ...(sealer === undefined ? {} : { sealer }),
  });
  const pools = new Map<string, SandboxPool>();
  let dispatcher: Dispatcher | undefined;
  const metrics = createMetrics();
  const audit = openAppAudit(app, logger, options.tracing === false);
  audit.record({
    kind: AUDIT_KIND.appStarted,
    outcome: "info",
    details: {
      manifestDigest: manifestDigest(app),
      mode: buildDir === undefined ? "start" : "dev",
      functions: [...app.functions.keys()],
    },
  });
  for (const b of bundles)
    if (b.refused !== undefined)
      audit.record({
        kind: AUDIT_KIND.bundleRejected,
        subject: b.fn.name,
        outcome: "denied",
        details: { code: b.refused.code, reason: b.refused.message },
      });
  const tracing =
    options.tracing === false
      ? noTracing(nextTraceparent)
      : createTracing({
          batched: [traceStoreExporter(join(app.dataDir, TRACES_FILE))],
          immediate: options.spanExporters ?? [],
        });
  const dataPath = createDataPath({
    tracing,
    registry,
    hopLimit: app.hopLimit,
    authorize,
    log,
    pools,
    wake: () => dispatcher?.notify(),
  });

  const capabilities = openCapabilities(
    app,
    dataPath.emit,
    logger,
    keyRing,
    metrics,
    sealer !== undefined,
    tracing,
    audit,
  );
  try {
    await startPools(app, bundles, capabilities, logger, pools, { metrics, audit });
  } catch (err) {
    await Promise.all([...pools.values()].map((p) => p.close()));
    await capabilities.close();
    await log.close();
    if (buildDir !== undefined) rmSync(buildDir, { recursive: true, force: true });
    throw err;
  }

  dispatcher = createDispatcher({
    log,
    targets: [...app.functions.values()].map((fn) => ({
      name: fn.name,
      on: fn.on,
      ...(fn.filter === undefined ? {} : { filter: compiledFilter(fn.filter) }),
      concurrency: fn.limits.concurrency,
      batch: INVOKE_BATCH,
      admission: fn.limits,
      retry: fn.retry,
    })),
    async invoke(target, delivery) {
      const done = metrics.invocationSeconds.startTimer({ fn: target });
      try {
        await dataPath.deliver(target, delivery);
      } finally {
        done();
      }
    },
    onSettled(d, outcome) {
      metrics.deliveries.inc({ fn: d.target, outcome: outcome.kind });
      if (outcome.kind === "failed")
        audit.record({
          kind: AUDIT_KIND.deadLettered,
          subject: d.target,
          outcome: "error",
          details: {
            eventId: d.event.id,
            type: d.event.type,
            reason: outcome.reason,
            attempts: d.attempts + 1,
          },
        });
      logOutcome(logger, d, outcome);
    },
    onHold: (fn, hold) => metrics.holds.inc({ fn, hold }),
    onBudgetExhausted: (fn, limit, day) => {
      audit.record({
        kind: AUDIT_KIND.budgetHeld,
        subject: fn,
        outcome: "denied",
        details: { budget: "dailyInvocations", limit, day },
      });
      logger.warn(
        { fn, limit, day },
        "daily invocation budget exhausted; deliveries are held until tomorrow",
      );
      dataPath
        .platformEvent(
          "palisade.security.budget-exceeded",
          { function: fn, limit, day },
          `budget-exceeded:${fn}:${day}`,
        )
        .catch((err: unknown) =>
          logger.error({ err: toPalisadeError(err).message }, "cannot emit budget-exceeded"),
        );
    },
    onError: (err) => logger.error({ err: toPalisadeError(err).message }, "dispatcher error; retrying"),
  });
  // Archive retention: finished events older than retentionDays go, at start and every hour.
  const prune = () =>
    log
      .prune(Date.now() - app.retentionDays * 86_400_000)
      .then((n) => n > 0 && logger.info({ events: n }, "pruned events past their retention"))
      .catch((err: unknown) => logger.error({ err: toPalisadeError(err).message }, "pruning failed"));
  void prune();
  const pruner = setInterval(prune, 3_600_000);
  pruner.unref();
  // Gauges that are read, not counted: refreshed every few seconds.
  const gauges = setInterval(() => {
    for (const [fn, pool] of pools) metrics.poolSize.set({ fn }, pool.size());
    log
      .stateCounts()
      .then(({ pending, failed }) => {
        metrics.pendingDeliveries.set(pending);
        metrics.dlqDepth.set(failed);
      })
      .catch(() => undefined); // closing
  }, GAUGE_MS);
  gauges.unref();
  const scheduler = createScheduler({
    schedules,
    log,
    fire: (schedule, at) => dataPath.tick(schedule, at),
    onError: (err) => logger.error({ err: toPalisadeError(err).message }, "schedule tick failed"),
  });

  const gateway = createGateway({
    sources: app.sources,
    ingest: dataPath.ingest,
    authenticate,
    principalLimit: (name) => app.principals.get(name)?.rateLimit ?? DEFAULT_RATE_LIMIT,
    rateLimits: createMemoryRateLimitStore(),
    secret,
    metrics,
    logger,
    onRejected: (r) =>
      audit.record({
        kind: AUDIT_KIND.ingressRejected,
        ...(r.principal === undefined ? {} : { actor: r.principal }),
        outcome: "denied",
        details: { reason: r.reason, code: r.code, status: r.status, ip: r.ip, route: r.route },
      }),
    ...(options.tls || app.tls ? { tls: readTls({ ...app.tls, ...options.tls } as TlsSpec) } : {}),
  });
  const url = await gateway.listen({
    port: options.port ?? DEFAULT_PORT,
    host: options.host ?? DEFAULT_HOST,
  });
  const gatewayFile = join(app.dataDir, GATEWAY_FILE);
  writeFileSync(gatewayFile, `${JSON.stringify({ url, pid: process.pid })}\n`, { mode: 0o600 });
  logger.info({ app: app.name, url, functions: [...app.functions.keys()] }, "palisade is running");

  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    log,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };

  async function shutdown(): Promise<void> {
    scheduler.close();
    clearInterval(pruner);
    clearInterval(gauges);
    await gateway.close();
    const draining = dispatcher?.close();
    await Promise.all([...pools.values()].map((p) => p.close()));
    await draining;
    await capabilities.close();
    await log.close();
    await tracing.close();
    audit.close();
    rmSync(gatewayFile, { force: true });
    if (buildDir !== undefined) rmSync(buildDir, { recursive: true, force: true });
  }
}

// The manifest loader already refused invalid patterns, so this compiles.
function compiledFilter(pattern: object): EventFilter {
  const filter = compileFilter(pattern);
  if (Array.isArray(filter))
    throw new Error(`invalid filter passed the manifest check: ${JSON.stringify(filter)}`);
  return filter;
}

function readTls(tls: TlsSpec): { cert: string; key: string; ca?: string } {
  const read = (file: string) => readFileSync(file, "utf8");
  return { cert: read(tls.cert), key: read(tls.key), ...(tls.clientCa ? { ca: read(tls.clientCa) } : {}) };
}

export function schemasOf(app: AppModel): Map<string, object> {
  return new Map([...app.events].map(([type, spec]) => [type, spec.schema]));
}

function removeOtherBuilds(buildDir: string): void {
  const root = dirname(buildDir);
  for (const name of readdirSync(root)) {
    if (join(root, name) !== buildDir) rmSync(join(root, name), { recursive: true, force: true });
  }
}

function logOutcome(logger: Logger, d: Delivery, outcome: Outcome): void {
  const fields = { fn: d.target, eventId: d.event.id, type: d.event.type, attempt: d.attempts + 1 };
  if (outcome.kind === "delivered") logger.info(fields, "delivered");
  else if (outcome.kind === "retry")
    logger.warn(
      { ...fields, error: outcome.error, retryAt: new Date(outcome.at).toISOString() },
      "attempt failed; will retry",
    );
  else logger.error({ ...fields, error: outcome.error }, "delivery failed");
}
