/**
 * Where an app keeps its state and keys, and how commands open them: the key ring, the sealed
 * secret store, the event store and the audit log, each with the app's keys. `dev`, `start` and the
 * CLI commands that work beside them (`secrets`, `keys`, `dlq`, `replay`, `audit`) all open them here.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import {
  AUDIT_FILE,
  AUDIT_KEY_FILE,
  AUDIT_KIND,
  type AuditEntry,
  type AuditLog,
  checkAuditHead,
  ensureAuditKey,
  loadAuditTrust,
  newNodeId,
  openAuditLog,
  openNodeAuditLog,
} from "./audit/index.ts";
import { type AuditStream, openSqliteStore } from "./bus/index.ts";
import { toPalisadeError } from "./errors.ts";
import { openSqliteKvStore } from "./kv/index.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger } from "./observe/index.ts";
import { type AppStore, EVENTS_FILE, openStore, type StoreOptions } from "./open-store.ts";
import {
  type KeyRing,
  type KeyRingOptions,
  type KeyVersion,
  localMasterKey,
  type MasterKeyProvider,
  openFileSecretStore,
  openKeyRing,
  type Sealer,
  type SecretStore,
} from "./security/index.ts";

/** File in the data dir that tells `palisade send` where the running gateway listens. */
export const GATEWAY_FILE = "gateway.json";

/** The app's secret store, inside its data dir. */
export const SECRETS_FILE = "secrets.json";
/** The master key, relative to the app directory (gitignored; or PALISADE_MASTER_KEY). */
export const MASTER_KEY_FILE = join("keys", "master.key");
/** Wrapped data key versions, inside the data dir. */
export const KEYRING_FILE = "keyring.json";

/** The app's key ring: data keys in `.palisade/keyring.json` under the master key. */
export function openAppKeyRing(appDir: string, create = true, options: KeyRingOptions = {}): KeyRing {
  const dir = resolve(appDir);
  return openKeyRing(join(dir, ".palisade", KEYRING_FILE), appMasterKey(dir, create), options);
}

/**
 * The app's master key (PALISADE_MASTER_KEY, or `keys/master.key`, created if `create`): what wraps
 * the data keys, in the app's keyring.json or in a NATS deployment's key bucket. It never leaves
 * this machine.
 */
export function appMasterKey(appDir: string, create: boolean): MasterKeyProvider {
  return localMasterKey(join(resolve(appDir), MASTER_KEY_FILE), { create });
}

/**
 * The app's store, sealed with its key ring and routing to its functions (for commands that read or
 * change it beside `dev`, and tests); `options` as `openStore`'s, the sealer defaulting to the key ring.
 */
export async function openAppStore(app: AppModel, options: StoreOptions = {}): Promise<AppStore> {
  const store = await openStore(
    app,
    "sealer" in options ? options : { sealer: openAppKeyRing(app.dir), ...options },
  );
  // As at start (main.ts): rows signed on open are audited, whichever command opened the store.
  if (store.rowsSigned > 0)
    auditCommand(app.dir, {
      kind: AUDIT_KIND.deliveryRowsSigned,
      subject: EVENTS_FILE,
      outcome: "allowed",
      details: { rows: store.rowsSigned },
    });
  return store;
}

/** What `palisade keys` changes: the app's file key ring, or a NATS deployment's shared one. */
export interface OperatorKeyRing {
  activeVersion(): number;
  versions(): KeyVersion[];
  rotate(): number | Promise<number>;
  retire(version: number): void | Promise<void>;
  /** Who may still be sealing with `version`: running platforms' pids, or NATS nodes ("host pid N"). */
  sealingWith(version: number): (number | string)[] | Promise<(number | string)[]>;
}

/** Every store of an app that holds sealed records, opened with one key ring (for `palisade keys`). */
export interface SealedStores {
  readonly keyRing: OperatorKeyRing;
  /** Where the key ring is, for messages: `keyring.json`, or the NATS bucket. */
  readonly where: string;
  /** How many records each data key version seals, per store. */
  versions(): Promise<{ store: string; counts: Map<number, number> }[]>;
  /** Re-seals up to `limit` records not on the active version; resolves to how many (0: done). */
  reencrypt(limit: number): Promise<number>;
  close(): Promise<void>;
}

export function openSealedStores(appDir: string): SealedStores {
  const keyRing = openAppKeyRing(appDir, false);
  const dir = join(resolve(appDir), ".palisade");
  // Only re-sealed and counted, never appended to or taken from: it routes to nobody.
  const log = openSqliteStore(join(dir, EVENTS_FILE), { sealer: keyRing, subscriptions: [] });
  const kv = openSqliteKvStore(join(dir, KV_FILE), keyRing);
  const secrets = openAppSecrets(appDir, keyRing);
  return {
    keyRing,
    where: KEYRING_FILE,
    async versions() {
      return [
        { store: EVENTS_FILE, counts: await log.maintenance.sealedVersions() },
        { store: "kv.db", counts: await kv.sealedVersions() },
        { store: "secrets.json", counts: secrets.versions() },
      ];
    },
    async reencrypt(limit) {
      const n = await log.maintenance.reencrypt(limit);
      if (n > 0) return n;
      const m = await kv.reencrypt(limit);
      return m > 0 ? m : secrets.reencrypt();
    },
    async close() {
      keyRing.flush();
      await log.close();
      await kv.close();
    },
  };
}

/**
 * The app's audit log (`.palisade/audit.db`), checkpoints signed with its audit key
 * (`keys/audit.key`, created if missing); the bundle-signing key is not needed to run an app.
 */
export function openAppAudit(app: AppModel, logger: Logger, off = false): AuditLog {
  if (off) return NO_AUDIT;
  return openAuditLog(join(app.dir, AUDIT_FILE), {
    signingKeyPem: ensureAuditKey(app.dir),
    onError: (err) => logger.error({ err: toPalisadeError(err).message }, "audit log write failed; retrying"),
  });
}

/**
 * The audit log of this node of a NATS deployment: its own hash chain on the deployment's audit
 * stream, under a node id new to this process (logged, and in every record), checkpoints signed
 * with the app's local audit key (`keys/audit.key`, as on one machine). `.palisade/audit.db` is
 * not written by the platform then; operator commands still record their own operations there.
 */
export function openNatsAppAudit(app: AppModel, stream: AuditStream, logger: Logger): AuditLog {
  const node = newNodeId();
  logger.info({ auditNode: node, stream: stream.name }, "audit records go to the NATS audit stream");
  return openNodeAuditLog(stream, {
    node,
    signingKeyPem: ensureAuditKey(app.dir),
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
  // An app that was neither initialised nor run has no audit log yet.
  if (!existsSync(join(dir, AUDIT_FILE)) && !existsSync(join(dir, AUDIT_KEY_FILE))) return;
  const audit = openAuditLog(join(dir, AUDIT_FILE), { signingKeyPem: ensureAuditKey(dir) });
  audit.record({ actor: `cli:${userInfo().username}`, ...entry });
  audit.close();
}

/** SHA-256 of the manifest as written: what was deployed. */
export function manifestDigest(app: AppModel): string {
  return createHash("sha256").update(readFileSync(app.manifestPath)).digest("hex");
}

/**
 * The app's secret store, sealed by its key ring. Its file must be at least the newest generation
 * the audit log records for it (`palisade secrets` commands record it), or it is refused as rolled back.
 */
export function openAppSecrets(
  appDir: string,
  keyRing: Sealer = openAppKeyRing(appDir),
  onRollback?: (found: number, expected: number) => void,
): SecretStore {
  const dir = resolve(appDir);
  return openFileSecretStore(join(dir, ".palisade", SECRETS_FILE), keyRing, {
    floor: recordedSecretsGeneration(dir),
    ...(onRollback === undefined ? {} : { onRollback }),
  });
}

const SECRET_KINDS: readonly string[] = [
  AUDIT_KIND.secretSet,
  AUDIT_KIND.secretRotated,
  AUDIT_KIND.secretRemoved,
];

/**
 * The highest secret store generation the audit log records (0: none), read while the whole chain
 * is shown intact up to the signed head kept beside it: a secret record deleted or edited (with the
 * head left alone) would otherwise lower the floor and let an older secrets.json back in. The highest,
 * not the newest: a record appended after the last checkpoint is unsigned, and may only raise it.
 */
function recordedSecretsGeneration(dir: string): number {
  let highest = 0;
  checkAuditHead(join(dir, AUDIT_FILE), loadAuditTrust(dir), (record) => {
    if (SECRET_KINDS.includes(record.kind)) highest = Math.max(highest, generationIn(record.body));
  });
  return highest;
}

function generationIn(body: string): number {
  let generation: unknown;
  try {
    generation = JSON.parse(body)?.details?.generation;
  } catch {
    return 0; // not written by Palisade (an unsigned record appended at the end): it cannot lower the floor
  }
  return typeof generation === "number" && Number.isSafeInteger(generation) ? generation : 0;
}
/** Key-value namespaces of ctx.kv, inside the data dir. */
export const KV_FILE = "kv.db";
/** Recent spans for `palisade traces`, inside the data dir. */
export const TRACES_FILE = "traces.db";
/** Counts of capability use and refusals per function, inside the data dir. */
export const USAGE_FILE = "usage.db";

/** Where `palisade build` writes signed bundles, relative to the app (read by `palisade start`). */
export const DIST_DIR = "dist";
