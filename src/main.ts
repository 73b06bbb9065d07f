/**
 * Composition root: load the app, build each domain, wire them along the data path, start.
 * Nothing here decides policy; it only connects the pieces.
 */

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AUDIT_FILE, AUDIT_KIND, type AuditEntry, type AuditLog, openAuditLog } from "./audit/index.ts";
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
import { PalisadeError, toPalisadeError } from "./errors.ts";
import {
  type CloudEvent,
  compileFilter,
  createEvent,
  EVENT_HOP_LIMIT,
  type EventFilter,
  nextTraceparent,
  PLATFORM_EVENT_TYPES,
} from "./events/index.ts";
import {
  createAuthenticator,
  createGateway,
  createMemoryRateLimitStore,
  webhookPrincipal,
} from "./gateway/index.ts";
import { openSqliteKvStore } from "./kv/index.ts";
import {
  type AppModel,
  DEFAULT_RATE_LIMIT,
  type FunctionSpec,
  loadApp,
  type TlsSpec,
} from "./manifest/index.ts";
import {
  createLogger,
  createMetrics,
  createTracing,
  type Logger,
  type Metrics,
  noTracing,
  type Tracing,
  traceStoreExporter,
} from "./observe/index.ts";
import {
  type CapabilityBackends,
  type CapabilityHost,
  createCapabilityHost,
  createSandboxPool,
  detectOsLayer,
  egressFetch,
  type FunctionLog,
  INVOKE_BATCH,
  RUNTIME_LOAD_FAILED,
  type SandboxPool,
} from "./runtime/index.ts";
import { createSchemaRegistry, openSchemaStore, registerSchemas } from "./schema/index.ts";
import {
  createAuthorizer,
  type KeyRing,
  localMasterKey,
  openFileSecretStore,
  openKeyRing,
  openUsageStore,
  requireSecret,
  type SecretStore,
  type UsageStore,
} from "./security/index.ts";
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

/** `palisade invoke` named a function or type the app does not have. */
export const INVOKE_UNKNOWN_FUNCTION = "PAL_INVOKE_UNKNOWN_FUNCTION";

/** Certificate, key and (for mTLS) client CA files of the gateway. */
export type TlsFiles = TlsSpec;

/** File in the data dir that tells `palisade send` where the running gateway listens. */
export const GATEWAY_FILE = "gateway.json";

/** The app's secret store, inside its data dir. */
export const SECRETS_FILE = "secrets.json";
/** The master key, relative to the app directory (gitignored; or PALISADE_MASTER_KEY). */
export const MASTER_KEY_FILE = join("keys", "master.key");
/** Wrapped data key versions, inside the data dir. */
export const KEYRING_FILE = "keyring.json";

/** The app's key ring: data keys in `.palisade/keyring.json` under the master key. */
export function openAppKeyRing(appDir: string, create = true): KeyRing {
  const dir = resolve(appDir);
  return openKeyRing(
    join(dir, ".palisade", KEYRING_FILE),
    localMasterKey(join(dir, MASTER_KEY_FILE), { create }),
  );
}

/** The app's event log, opened with its key ring (for commands that read or change it beside `dev`). */
export function openAppLog(appDir: string): SqliteEventLog {
  return openSqliteEventLog(join(resolve(appDir), ".palisade", "events.db"), {
    sealer: openAppKeyRing(appDir),
  });
}

/** Every store of an app that holds sealed records, opened with one key ring (for `palisade keys`). */
export interface SealedStores {
  readonly keyRing: KeyRing;
  /** How many records each data key version seals, per store. */
  versions(): Promise<{ store: string; counts: Map<number, number> }[]>;
  /** Re-seals up to `limit` records not on the active version; resolves to how many (0: done). */
  reencrypt(limit: number): Promise<number>;
  close(): Promise<void>;
}

export function openSealedStores(appDir: string): SealedStores {
  const keyRing = openAppKeyRing(appDir, false);
  const dir = join(resolve(appDir), ".palisade");
  const log = openSqliteEventLog(join(dir, "events.db"), { sealer: keyRing });
  const kv = openSqliteKvStore(join(dir, KV_FILE), keyRing);
  const secrets = openAppSecrets(appDir, keyRing);
  return {
    keyRing,
    async versions() {
      return [
        { store: "events.db", counts: await log.sealedVersions() },
        { store: "kv.db", counts: await kv.sealedVersions() },
        { store: "secrets.json", counts: secrets.versions() },
      ];
    },
    async reencrypt(limit) {
      const n = await log.reencrypt(limit);
      if (n > 0) return n;
      const m = await kv.reencrypt(limit);
      return m > 0 ? m : secrets.reencrypt();
    },
    async close() {
      await log.close();
      await kv.close();
    },
  };
}

/** The app's audit log (`.palisade/audit.db`), checkpoints signed with its signing key. */
export function openAppAudit(app: AppModel, logger: Logger, off = false): AuditLog {
  if (off) return NO_AUDIT;
  return openAuditLog(join(app.dir, AUDIT_FILE), {
    signingKeyPem: loadSigningKey(app.dir),
    onError: (err) => logger.error({ err: toPalisadeError(err).message }, "audit log write failed; retrying"),
  });
}

/** Audit off: only for the benchmark that measures what auditing costs. */
const NO_AUDIT = {
  record: () => undefined,
  flush: () => undefined,
  close: () => undefined,
} as unknown as AuditLog;

/** Records one security-relevant operation of a CLI command in the app's audit log. */
export function auditCommand(appDir: string, entry: AuditEntry): void {
  const dir = resolve(appDir);
  if (!existsSync(join(dir, SIGNING_KEY_FILE))) return; // an app that never ran has no audit log yet
  const audit = openAuditLog(join(dir, AUDIT_FILE), { signingKeyPem: loadSigningKey(dir) });
  audit.record({ actor: `cli:${userInfo().username}`, ...entry });
  audit.close();
}

/** SHA-256 of the manifest as written: what was deployed. */
function manifestDigest(app: AppModel): string {
  return createHash("sha256").update(readFileSync(app.manifestPath)).digest("hex");
}

/** The app's secret store, sealed by its key ring. */
export function openAppSecrets(appDir: string, keyRing: KeyRing = openAppKeyRing(appDir)): SecretStore {
  return openFileSecretStore(join(resolve(appDir), ".palisade", SECRETS_FILE), keyRing);
}
/** Key-value namespaces of ctx.kv, inside the data dir. */
export const KV_FILE = "kv.db";
/** Capability names a span may carry (anything else a sandbox asks for is "unknown"). */
const KNOWN_CAPABILITIES = new Set([
  "emit",
  "secrets.get",
  "fetch",
  "kv.get",
  "kv.set",
  "kv.delete",
  "kv.list",
]);

/** How often the pool-size, pending and DLQ gauges are refreshed. */
const GAUGE_MS = 2000;

/** Recent spans for `palisade traces`, inside the data dir. */
export const TRACES_FILE = "traces.db";
/** Counts of capability use and refusals per function, inside the data dir. */
export const USAGE_FILE = "usage.db";

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

export interface PreparedFunction {
  readonly fn: FunctionSpec;
  /** The directory holding index.mjs, sbom.cdx.json and attestation.dsse.json. */
  readonly dir: string;
  /** The verified bundle, or undefined when `refused`. */
  readonly bundlePath?: string;
  readonly refused?: PalisadeError;
}

/** Where `palisade build` writes signed bundles, relative to the app (read by `palisade start`). */
export const DIST_DIR = "dist";

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
    await startPools(app, bundles, capabilities, logger, pools);
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

/** The capability host with its stores open: kv, secrets, egress, and the record of use. */
export interface OpenCapabilities {
  readonly host: CapabilityHost;
  readonly usage: UsageStore;
  close(): Promise<void>;
}

/**
 * Opens what functions reach through their capabilities, each behind the grant checks of the
 * capability host: `emit` is the data path's (or, for `palisade invoke`, a recorder). Every call is
 * counted in `.palisade/usage.db`; every refusal is also logged.
 */
export function openCapabilities(
  app: AppModel,
  emit: CapabilityBackends["emit"],
  logger: Logger,
  keyRing: KeyRing,
  metrics?: Metrics,
  encryptAtRest = true,
  tracing?: Tracing,
  audit?: AuditLog,
): OpenCapabilities {
  const secrets = openAppSecrets(app.dir, keyRing);
  const kv = openSqliteKvStore(join(app.dataDir, KV_FILE), ...(encryptAtRest ? [keyRing] : []));
  const usage = openUsageStore(join(app.dataDir, USAGE_FILE));
  const host = createCapabilityHost(
    {
      emit,
      secret: (name) => secrets.get(name),
      kv,
      fetch: (fn, url, init) => egressFetch(url, init, { fn: fn.name, rules: fn.egress }),
    },
    {
      used(inv, kind, target) {
        usage.record(inv.fn.name, kind, target, "used");
        metrics?.capabilityCalls.inc({ fn: inv.fn.name, kind });
      },
      denied(inv, kind, target, reason) {
        if (kind !== "unknown") usage.record(inv.fn.name, kind, target, "denied", reason);
        metrics?.capabilityDenied.inc({ fn: inv.fn.name, kind });
        audit?.record({
          kind: AUDIT_KIND.capabilityDenied,
          actor: `function:${inv.fn.name}`,
          subject: target,
          outcome: "denied",
          details: { capability: kind, eventId: inv.event.id, reason },
        });
        logger.warn(
          { fn: inv.fn.name, eventId: inv.event.id, cap: kind, target },
          `capability denied: ${reason}`,
        );
      },
    },
  );
  // Each capability call is a span under the invocation's.
  const traced: CapabilityHost =
    tracing === undefined
      ? host
      : async (inv, cap, args) => {
          // The name comes from the sandbox: only known capability names reach the trace store.
          const known = KNOWN_CAPABILITIES.has(cap) ? cap : "unknown";
          const span = tracing.start(`capability ${known}`, inv.event.traceparent, {
            "palisade.function": inv.fn.name,
            "palisade.capability": known,
          });
          try {
            const value = await host(inv, cap, args);
            span.end();
            return value;
          } catch (err) {
            span.end(err);
            throw err;
          }
        };
  return {
    host: traced,
    usage,
    async close() {
      usage.close();
      await kv.close();
    },
  };
}

/** Starts one sandbox pool per function and says which isolation layers each runs under. */
export async function startPools(
  app: AppModel,
  bundles: PreparedApp["bundles"],
  capabilities: OpenCapabilities,
  logger: Logger,
  pools: Map<string, SandboxPool>,
): Promise<void> {
  const functionLog: FunctionLog = (fn, eventId, level, message, fields, traceparent) =>
    logger[level](
      { ...fields, fn, eventId, ...(traceparent ? { traceId: traceparent.split("-")[1] } : {}) },
      message,
    );
  const os = detectOsLayer();
  const trusted = loadTrustedKeys(app.dir);
  for (const { fn, dir, bundlePath, refused } of bundles) {
    if (bundlePath === undefined || refused !== undefined) {
      // Not run, and its deliveries dead-letter as load-failed until a verified bundle replaces it.
      const reason = refused ?? new PalisadeError(RUNTIME_LOAD_FAILED, `Function "${fn.name}" has no bundle`);
      logger.error({ fn: fn.name, code: reason.code }, `function refused: ${reason.message}`);
      pools.set(fn.name, refusedPool(fn.name, reason));
      continue;
    }
    const pool = createSandboxPool({
      fn,
      bundlePath,
      capabilities: capabilities.host,
      log: functionLog,
      osLayer: os.active,
      // Every process start re-checks the signature: a bundle changed on disk after the start is
      // refused at the next spawn.
      beforeSpawn: () => verifyFunction(dir, trusted),
    });
    try {
      await pool.start();
    } catch (err) {
      // Cannot load (a throw at top level, an endless await): unavailable, the others run.
      const reason = toPalisadeError(err);
      logger.error({ fn: fn.name, code: reason.code }, `function refused: ${reason.message}`);
      await pool.close();
      pools.set(fn.name, refusedPool(fn.name, reason));
      continue;
    }
    pools.set(fn.name, pool);
    logger.info(
      {
        fn: fn.name,
        layers: ["node permission model", ...(os.active ? ["bubblewrap namespaces"] : [])],
        ...(os.active ? {} : { os: os.description }),
      },
      os.active ? "sandbox: permission model + OS layer" : "sandbox: permission model only",
    );
  }
}

/** What one `palisade invoke` run did. */
export interface InvokeReport {
  readonly event: CloudEvent;
  /** The handler's return value (undefined when it returned nothing or failed). */
  readonly result: unknown;
  /** Set when the handler threw, timed out or crashed. */
  readonly error?: { code: string; message: string };
  /** Events it emitted: checked against grants and schemas, then recorded here, not published. */
  readonly emits: readonly { type: string; data: unknown; id: string }[];
  readonly logs: readonly { level: string; message: string; fields: Record<string, unknown> }[];
}

/**
 * Runs one function once in its sandbox, with the same grant checks, stores and egress policy as
 * in `dev`, on an event of `type` with `data` (validated against the type's schema first). Emits
 * are validated and recorded, not published, so nothing downstream runs.
 */
export async function invokeOnce(
  appDir: string,
  fnName: string,
  type: string | undefined,
  data: unknown,
): Promise<InvokeReport> {
  const prepared = await prepareApp(appDir);
  const { app } = prepared;
  const pools = new Map<string, SandboxPool>();
  let capabilities: OpenCapabilities | undefined;
  try {
    const target = prepared.bundles.find((b) => b.fn.name === fnName);
    if (target === undefined)
      throw new PalisadeError(
        INVOKE_UNKNOWN_FUNCTION,
        `No function named "${fnName}"; functions are: ${[...app.functions.keys()].join(", ")}`,
      );
    const exact = target.fn.on.filter((t) => !t.endsWith("*"));
    const eventType = type ?? (exact.length === 1 ? exact[0] : undefined);
    if (eventType === undefined)
      throw new PalisadeError(
        INVOKE_UNKNOWN_FUNCTION,
        `Function "${fnName}" subscribes to ${target.fn.on.join(", ")}; say which type with --type`,
      );
    const registry = createSchemaRegistry(
      new Map([...schemasOf(app), ...PLATFORM_EVENT_TYPES]),
      prepared.schemaVersions,
    );
    registry.assertValid(eventType, data);
    const event = createEvent(
      { type: eventType, data },
      {
        principal: "cli:invoke",
        source: "palisade://cli/invoke",
        hop: 0,
        schemaversion: registry.version(eventType),
      },
    );
    const emits: { type: string; data: unknown; id: string }[] = [];
    const logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const logger = createLogger({
      level: "debug",
      destination: {
        write(line: string) {
          const { level, msg, fn, eventId, time, pid, hostname, ...fields } = JSON.parse(line) as Record<
            string,
            unknown
          >;
          if (fn === fnName && eventId === event.id)
            logs.push({ level: levelName(level), message: String(msg), fields });
        },
      },
    });
    capabilities = openCapabilities(
      app,
      async (inv, emitType, emitData) => {
        if (inv.event.hop + 1 > app.hopLimit)
          throw new PalisadeError(
            EVENT_HOP_LIMIT,
            `Cannot emit "${emitType}": event chain is deeper than ${app.hopLimit} hops`,
          );
        registry.assertValid(emitType, emitData);
        const id = randomUUID();
        emits.push({ type: emitType, data: emitData, id });
        return id;
      },
      logger,
      openAppKeyRing(app.dir),
    );
    await startPools(app, [target], capabilities, logger, pools);
    const pool = pools.get(fnName);
    try {
      const result = await pool?.invoke(event, 1);
      return { event, result, emits, logs };
    } catch (err) {
      const e = toPalisadeError(err);
      return { event, result: undefined, error: { code: e.code, message: e.message }, emits, logs };
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    await capabilities?.close();
    if (prepared.buildDir !== undefined) rmSync(prepared.buildDir, { recursive: true, force: true });
  }
}

function levelName(level: unknown): string {
  const names: Record<number, string> = { 20: "debug", 30: "info", 40: "warn", 50: "error" };
  return names[Number(level)] ?? String(level);
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

function schemasOf(app: AppModel): Map<string, object> {
  return new Map([...app.events].map(([type, spec]) => [type, spec.schema]));
}

/** A function whose bundle was refused: every invocation fails as load-failed (dead-lettered). */
function refusedPool(name: string, reason: PalisadeError): SandboxPool {
  const error = () =>
    new PalisadeError(RUNTIME_LOAD_FAILED, `Function "${name}" is unavailable: ${reason.message}`);
  return {
    start: async () => undefined,
    invoke: () => Promise.reject(error()),
    size: () => 0,
    close: async () => undefined,
  };
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
