/**
 * The functions' side of the platform: the capability host with the stores it reaches (kv, secrets,
 * egress, the record of use), and one sandbox pool per function, each behind its bundle's signature.
 */
import { join } from "node:path";
import { KV_FILE, openAppSecrets, USAGE_FILE } from "./app-files.ts";
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import { PalisadeError, toPalisadeError } from "./errors.ts";
import { KV_QUOTA_EXCEEDED, type KvStore, openSqliteKvStore } from "./kv/index.ts";
import type { AppModel, FunctionSpec } from "./manifest/index.ts";
import type { Logger, Metrics, Tracing } from "./observe/index.ts";
import {
  type CapabilityBackends,
  type CapabilityHost,
  type CapabilityUse,
  createCapabilityHost,
  createSandboxPool,
  deliveryError,
  detectOsLayer,
  egressFetch,
  type FunctionLog,
  guardFunctionLog,
  heldCallError,
  type Invocation,
  type KvBackend,
  type LogLimitReason,
  RUNTIME_LIMIT_EXCEEDED,
  RUNTIME_LOAD_FAILED,
  removeStaleScratch,
  type SandboxPool,
  type SandboxPoolEvents,
} from "./runtime/index.ts";
import { openUsageStore, type Sealer, type SecretReader, type UsageStore } from "./security/index.ts";
import { createKeptSignals } from "./signal-sinks.ts";
import type { Signals } from "./signals/index.ts";
import {
  admitBundle,
  BUNDLE_HISTORY_FILE,
  checkStagedBundle,
  loadTrustedKeys,
  stageBundle,
  verifyFunction,
} from "./supply/index.ts";

/** A function of a prepared app: its signed bundle directory, or why it was refused. */
export interface PreparedFunction {
  readonly fn: FunctionSpec;
  /** The directory holding index.mjs, sbom.cdx.json and attestation.dsse.json. */
  readonly dir: string;
  /** The verified bytes, staged where only the platform writes; undefined when `refused`. */
  readonly bundlePath?: string;
  /** SHA-256 of the verified bytes: the staged file must still have it at every process start. */
  readonly sha256?: string;
  /** Build time of the newer bundle this one replaced, when `--allow-downgrade` let it go back. */
  readonly downgradedFrom?: string;
  readonly refused?: PalisadeError;
}

/**
 * Verifies each function's bundle in `<sourceDir>/<name>/` against the app's trusted keys and stages
 * the verified bytes into `<runDir>/<name>/index.mjs`, the file its sandbox loads. With `history`
 * (bundles deployed from dist/), a bundle built before the last one accepted is refused unless
 * `allowDowngrade`. A refused function does not run; the others do.
 */
export function verifyFunctions(
  app: AppModel,
  sourceDir: string,
  runDir: string,
  history?: { allowDowngrade: boolean },
): PreparedFunction[] {
  const trusted = loadTrustedKeys(app.dir);
  return [...app.functions.values()].map((fn) => {
    const dir = join(sourceDir, fn.name);
    try {
      const verified = verifyFunction(dir, trusted);
      const admitted =
        history === undefined
          ? {}
          : admitBundle(join(app.dataDir, BUNDLE_HISTORY_FILE), fn.name, verified, history.allowDowngrade);
      const bundlePath = stageBundle(verified, fn.name, runDir);
      return { fn, dir, bundlePath, sha256: verified.sha256, ...admitted };
    } catch (err) {
      return { fn, dir, refused: toPalisadeError(err) };
    }
  });
}

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

/** The capability host with its stores open: kv, secrets, egress, and the record of use. */
export interface OpenCapabilities {
  readonly host: CapabilityHost;
  readonly usage: UsageStore;
  /** Counts a function's log line cut or dropped by its limits (the metric lives with the host's). */
  logLimited(fn: string, reason: LogLimitReason): void;
  /** Where a function's log lines go besides the log: the platform's signals (`palisade tail`). */
  readonly signals: Signals;
  close(): Promise<void>;
}

/** What `openCapabilities` reports to and shares; each is optional (`palisade invoke` has none). */
export interface CapabilityOptions {
  metrics?: Metrics | undefined;
  /** @default true */
  encryptAtRest?: boolean;
  tracing?: Tracing | undefined;
  audit?: AuditLog | undefined;
  /** The secret store the platform already opened; one is opened here when absent. */
  secrets?: SecretReader | undefined;
  /** The platform's signal stream; one that only logs is made when absent. */
  signals?: Signals | undefined;
  /**
   * Where capability use is recorded (on NATS, the deployment's bucket; its opener closes it);
   * `.palisade/usage.db` when absent.
   */
  usage?: UsageStore | undefined;
  /**
   * Asked before each granted call: the held scope (`<function>/<kind>:<target>`) that makes the
   * call wait with its delivery, or undefined.
   */
  held?:
    | ((fn: string, kind: CapabilityUse, target: string, event: Invocation["event"]) => string | undefined)
    | undefined;
}

/**
 * Opens what functions reach through their capabilities, each behind the grant checks of the
 * capability host: `emit` is the data path's (or, for `palisade invoke`, a recorder). Every call is
 * counted in `.palisade/usage.db` (or the store given); every refusal is also logged.
 */
export function openCapabilities(
  app: AppModel,
  emit: CapabilityBackends["emit"],
  logger: Logger,
  keyRing: Sealer,
  options: CapabilityOptions = {},
): OpenCapabilities {
  const { metrics, encryptAtRest = true, tracing } = options;
  // Where capability use and refusals go (metrics, audit, log, detectors subscribe there).
  const signals = options.signals ?? createKeptSignals({ logger, metrics, audit: options.audit });
  // The platform's own store when given: opening one checks the audit chain for the rollback floor.
  const secrets = options.secrets ?? openAppSecrets(app.dir, keyRing);
  const kv = openSqliteKvStore(join(app.dataDir, KV_FILE), ...(encryptAtRest ? [keyRing] : []));
  const usage = options.usage ?? openUsageStore(join(app.dataDir, USAGE_FILE));
  const host = createCapabilityHost(
    {
      emit,
      secret: (name) => secrets.get(name),
      kv: kvBackend(kv, metrics),
      fetch: (fn, url, init, buffer, admit) =>
        egressFetch(url, init, { fn: fn.name, rules: fn.egress, buffer, admit }),
    },
    {
      used(inv, kind, target, bytes) {
        usage.record(inv.fn.name, kind, target, "used");
        signals.emit({
          kind: "capability.used",
          fn: inv.fn.name,
          capability: kind,
          target,
          eventId: inv.event.id,
          ...(bytes === undefined ? {} : { bytes }),
        });
      },
      denied(inv, kind, target, reason, grant) {
        if (kind !== "unknown") usage.record(inv.fn.name, kind, target, "denied", reason);
        signals.emit({
          kind: "capability.denied",
          fn: inv.fn.name,
          capability: kind,
          target,
          reason,
          eventId: inv.event.id,
          principal: inv.event.principal,
          grant,
        });
      },
      limited(inv, kind, limit, reason, first) {
        signals.emit({
          kind: "capability.limited",
          fn: inv.fn.name,
          capability: kind,
          limit,
          reason,
          eventId: inv.event.id,
          first,
        });
      },
    },
    (inv, kind, target) => {
      const scope = options.held?.(inv.fn.name, kind, target, inv.event);
      return scope === undefined ? undefined : heldCallError(scope);
    },
  );
  // Each capability call is a span under the invocation's.
  const traced: CapabilityHost =
    tracing === undefined
      ? host
      : async (inv, cap, args) => {
          // The name comes from the sandbox: only known capability names reach the trace store.
          const known = KNOWN_CAPABILITIES.has(cap) ? cap : "unknown";
          // The event's W3C trace context: its traceparent and its `tracestate` extension.
          const state = inv.event.extensions?.tracestate;
          const parent = {
            traceparent: inv.event.traceparent,
            tracestate: typeof state === "string" ? state : undefined,
          };
          const span = tracing.start(`capability ${known}`, parent, {
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
    logLimited: (fn, reason) => metrics?.functionLogLimited.inc({ fn, reason }),
    signals,
    async close() {
      if (options.usage === undefined) await usage.close();
      await kv.close();
    },
  };
}

/**
 * The kv store as the capability host sees it: a namespace quota refusal becomes the runtime's
 * RUNTIME_LIMIT_EXCEEDED, and each write moves the commit counters (writes share commits).
 */
function kvBackend(kv: KvStore, metrics: Metrics | undefined): KvBackend {
  let seen = { commits: 0, writes: 0 };
  const counted = <T>(write: Promise<T>): Promise<T> =>
    write.finally(() => {
      const now = kv.writeStats();
      metrics?.kvCommits.inc(now.commits - seen.commits);
      metrics?.kvWrites.inc(now.writes - seen.writes);
      seen = now;
    });
  return {
    get: (ns, key) => kv.get(ns, key),
    list: (ns, options) => kv.list(ns, options),
    delete: (ns, key) => counted(kv.delete(ns, key)),
    set: (ns, key, value, options) =>
      counted(kv.set(ns, key, value, options)).catch((err: unknown) => {
        const e = toPalisadeError(err);
        throw e.code === KV_QUOTA_EXCEEDED
          ? new PalisadeError(RUNTIME_LIMIT_EXCEEDED, e.message, { status: 429 })
          : err;
      }),
  };
}

/** Where a pool's crashes, stops and unavailability are counted and recorded. */
export interface PoolWatch {
  metrics?: Metrics | undefined;
  audit?: AuditLog | undefined;
}

/** Starts one sandbox pool per function and says which isolation layers each runs under. */
export async function startPools(
  app: AppModel,
  bundles: readonly PreparedFunction[],
  capabilities: OpenCapabilities,
  logger: Logger,
  pools: Map<string, SandboxPool>,
  watch: PoolWatch = {},
): Promise<void> {
  const functionLog: FunctionLog = (fn, eventId, level, message, fields, traceparent, type) => {
    logger[level](
      { ...fields, fn, eventId, ...(traceparent ? { traceId: traceparent.split("-")[1] } : {}) },
      message,
    );
    capabilities.signals.emit({
      kind: "function.log",
      fn,
      level,
      message,
      ...(eventId === undefined ? {} : { eventId }),
      ...(type === undefined ? {} : { type }),
    });
  };
  const os = detectOsLayer();
  const trusted = loadTrustedKeys(app.dir);
  if (bundles.some((b) => b.fn.tmp)) removeScratchLeftovers(logger);
  for (const { fn, dir, bundlePath, sha256, refused } of bundles) {
    if (bundlePath === undefined || sha256 === undefined || refused !== undefined) {
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
      log: guardFunctionLog(functionLog, fn.name, fn.limits, (reason) =>
        capabilities.logLimited(fn.name, reason),
      ),
      osLayer: os.active,
      // Every process start re-checks the signature (a bundle changed in its build output after the
      // start is refused at the next spawn) and that the staged file is still the verified bytes.
      beforeSpawn: () => {
        verifyFunction(dir, trusted);
        checkStagedBundle(bundlePath, sha256, fn.name);
      },
      events: poolEvents(fn.name, logger, watch),
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

/** Scratch directories of sandbox processes whose platform was killed (so could not remove them). */
function removeScratchLeftovers(logger: Logger): void {
  try {
    const dirs = removeStaleScratch();
    if (dirs > 0) logger.info({ dirs }, "removed scratch directories left by a stopped platform");
  } catch (err) {
    // A scratch root that is not ours is refused again, per process start, with the reason.
    const e = toPalisadeError(err);
    logger.warn({ code: e.code }, `scratch directories not checked: ${e.message}`);
  }
}

/** Metrics, audit records and log lines for what one function's sandbox processes do wrong. */
function poolEvents(fn: string, logger: Logger, { metrics, audit }: PoolWatch): SandboxPoolEvents {
  const actor = `function:${fn}`;
  return {
    violation(v) {
      const reason = v.kind.replaceAll("-", "_");
      metrics?.sandboxStopped.inc({ fn, reason });
      const details =
        v.kind === "malformed-message" ? { reason } : { reason, bytes: v.bytes, limit: v.limit };
      audit?.record({ kind: AUDIT_KIND.sandboxStopped, actor, subject: fn, outcome: "denied", details });
      logger.warn({ fn, ...details }, "sandbox stopped: it broke the sandbox's limits");
    },
    crashed(reason) {
      metrics?.sandboxCrashes.inc({ fn });
      logger.warn({ fn, code: reason.code }, `sandbox crashed: ${reason.message}`);
    },
    unavailable({ crashes, windowMs, until }) {
      metrics?.functionUnavailable.set({ fn }, 1);
      const details = { crashes, windowMs, until: new Date(until).toISOString() };
      audit?.record({ kind: AUDIT_KIND.functionUnavailable, actor, subject: fn, outcome: "error", details });
      logger.error({ fn, ...details }, "function unavailable: it crashed in a loop; its deliveries are held");
    },
    available() {
      metrics?.functionUnavailable.set({ fn }, 0);
      audit?.record({ kind: AUDIT_KIND.functionAvailable, actor, subject: fn, outcome: "info" });
      logger.info({ fn }, "function available again");
    },
  };
}

/** A function whose bundle was refused: every invocation fails as load-failed (dead-lettered). */
function refusedPool(name: string, reason: PalisadeError): SandboxPool {
  const error = () =>
    deliveryError(
      new PalisadeError(RUNTIME_LOAD_FAILED, `Function "${name}" is unavailable: ${reason.message}`),
    );
  return {
    start: async () => undefined,
    invoke: () => Promise.reject(error()),
    size: () => 0,
    hold: () => undefined,
    release: () => undefined,
    close: async () => undefined,
  };
}
