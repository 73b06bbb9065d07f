/**
 * The admin side of a running app: the admin API and dashboard on the gateway's port, and who may
 * read `/metrics`. Admins authenticate with the gateway's own authenticator over `admins:` (a map
 * producers are not in); the service reads this process's store, audit log, traces, usage record,
 * key ring and secret store, on either backend.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import {
  type AdminService,
  type AdminSources,
  createAdminAuth,
  createAdminService,
  createSessions,
  createStreamHub,
  fileAuditView,
  type KeysStatus,
  keysStatusOf,
  natsAuditView,
  registerAdminRoutes,
  type StreamHub,
} from "./admin/index.ts";
import { TRACES_FILE, USAGE_FILE } from "./app-files.ts";
import type { AuditLog } from "./audit/index.ts";
import { toPalisadeError } from "./errors.ts";
import type { PreparedFunction } from "./function-runtime.ts";
import { type Authenticate, createAuthenticator, type MetricsGuard } from "./gateway/index.ts";
import { type AppModel, LOCAL_ADMIN_SECRET } from "./manifest/index.ts";
import { type Logger, type Metrics, readNatsTraces, readTraces } from "./observe/index.ts";
import type { AppStore } from "./open-store.ts";
import type { SandboxPool } from "./runtime/index.ts";
import type { ScaleOut } from "./scale-out.ts";
import type { KeyRing } from "./security/index.ts";
import {
  openUsageStore,
  type SecretStore,
  type SharedKeyRing,
  type SharedSecretStore,
} from "./security/index.ts";
import type { Signals } from "./signals/index.ts";

/** Records re-sealed per step of a rotation's background re-encryption. */
const REENCRYPT_BATCH = 500;

export interface AppAdminParts {
  readonly app: AppModel;
  readonly store: AppStore;
  readonly audit: AuditLog;
  readonly signals: Signals;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly scaleOut: ScaleOut | undefined;
  readonly keyRing: KeyRing | SharedKeyRing;
  readonly secrets: SecretStore | SharedSecretStore;
  /** The values of a named secret valid now. */
  readonly secret: (name: string) => readonly string[];
  readonly bundles: readonly PreparedFunction[];
  readonly pools: ReadonlyMap<string, SandboxPool>;
  /** Producers' authenticator (to refuse their credentials with 403); absent on a worker. */
  readonly producers?: Authenticate;
  readonly clientBlocked?: (ip: string) => number | undefined;
}

export interface AppAdmin {
  readonly service: AdminService;
  /** Who may read `/metrics`: undefined when `metrics.public`. */
  readonly metricsGuard: MetricsGuard | undefined;
  /** Registers the admin API and the dashboard on the gateway (before it listens). */
  register(gateway: FastifyInstance, tls: boolean): void;
  close(): void;
}

export async function openAppAdmin(parts: AppAdminParts): Promise<AppAdmin> {
  const { app, store, audit, scaleOut, keyRing, secrets } = parts;
  // The implicit admin (no `admins:`) exists only while PALISADE_ADMIN_KEY is set; a declared
  // admin's key must be there at start, like a principal's.
  const admins = createAuthenticator(app.admins, parts.secret, {
    nobody: "No admin may use the admin API; declare admins in palisade.yaml",
    optionalSecrets: new Set([LOCAL_ADMIN_SECRET]),
  });
  const roles = new Map([...app.admins.values()].map((a) => [a.name, a.role]));
  const sessions = createSessions();
  const auth = createAdminAuth({
    admins,
    ...(parts.producers === undefined ? {} : { producers: parts.producers }),
    roles,
    sessions,
  });
  const stream: StreamHub = createStreamHub(parts.signals);
  // On NATS the audit log is the deployment's stream (every node's chain), else the app's file.
  const auditView =
    scaleOut === undefined ? fileAuditView(app.dir) : natsAuditView(await scaleOut.auditStream(), app.dir);
  const sources: AdminSources = {
    app,
    store,
    audit: auditView,
    record: (entry) => audit.record(entry),
    traces: async (options) =>
      scaleOut === undefined
        ? readTraces(join(app.dataDir, TRACES_FILE), options)
        : readNatsTraces(await scaleOut.openTraces(), options),
    async usage() {
      const usage =
        scaleOut === undefined ? openUsageStore(join(app.dataDir, USAGE_FILE)) : await scaleOut.openUsage();
      try {
        return await usage.rows();
      } finally {
        await usage.close();
      }
    },
    runtime: (fn) => {
      const b = parts.bundles.find((x) => x.fn.name === fn);
      const pool = parts.pools.get(fn);
      return {
        ...(b === undefined
          ? {}
          : {
              bundle: {
                sha256: b.sha256 ?? null,
                keyids: keyidsOf(b.dir),
                refused: b.refused === undefined ? null : b.refused.message,
              },
            }),
        ...(pool === undefined ? {} : { processes: pool.size() }),
      };
    },
    metrics: parts.metrics,
    keys: () => keysStatus(keyRing, store, secrets),
    secretNames: () => secrets.list(),
    async rotateKey() {
      const version = await keyRing.rotate();
      // Older records are re-sealed in the background, a batch at a time; GET /keys shows progress.
      void (async () => {
        while ((await store.maintenance.reencrypt(REENCRYPT_BATCH)) > 0);
        await secrets.reencrypt();
      })().catch((err: unknown) =>
        parts.logger.error(
          { err: toPalisadeError(err).message },
          "re-encryption after a key rotation stopped; palisade keys rotate --resume finishes it",
        ),
      );
      return { version };
    },
    async rotateSecret(name, value, graceSec) {
      await secrets.rotate(name, value, graceSec);
      // A rotated admin key ends the sessions opened with it (and their live streams).
      for (const a of app.admins.values())
        if (a.auth.kind === "apiKey" && a.auth.secret === name) sessions.closeAdmin(a.name);
      // The file store's rollback floor is read from the audit log: record the generation written.
      return scaleOut === undefined
        ? { generation: secrets.generation() }
        : { natsGeneration: secrets.generation() };
    },
    inProcess: true,
  };
  const service = createAdminService(sources);
  return {
    service,
    metricsGuard: app.metricsPublic
      ? undefined
      : async (request) => {
          await auth.byCredential(request);
        },
    register(gateway, tls) {
      registerAdminRoutes(gateway, {
        service,
        auth,
        sessions,
        stream,
        secureCookies: tls,
        record: (entry) => audit.record(entry),
        onRefused: (r) => {
          const reason = r.status === 401 ? "unauthenticated" : "forbidden";
          parts.metrics.ingressRejected.inc({ reason, code: r.code, status: r.status });
          parts.signals.emit({
            kind: "ingress.rejected",
            ip: r.ip,
            ...(r.route === undefined ? {} : { route: r.route }),
            reason,
            code: r.code,
            status: r.status,
          });
        },
        ...(parts.clientBlocked === undefined ? {} : { clientBlocked: parts.clientBlocked }),
      });
    },
    close() {
      stream.close();
    },
  };
}

async function keysStatus(
  keyRing: KeyRing | SharedKeyRing,
  store: AppStore,
  secrets: SecretStore | SharedSecretStore,
): Promise<KeysStatus> {
  return keysStatusOf(keyRing, [
    { store: "events", counts: await store.maintenance.sealedVersions() },
    { store: "secrets", counts: secrets.versions() },
  ]);
}

/** The key ids of a bundle's DSSE signatures (its attestation), as verified at start. */
function keyidsOf(dir: string): string[] {
  try {
    const envelope = JSON.parse(readFileSync(join(dir, "attestation.dsse.json"), "utf8")) as {
      signatures?: { keyid?: unknown }[];
    };
    return (envelope.signatures ?? []).flatMap((s) => (typeof s.keyid === "string" ? [s.keyid] : []));
  } catch {
    return [];
  }
}
