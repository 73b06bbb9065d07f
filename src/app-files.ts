/**
 * Where an app keeps its state and keys, and how commands open them: the key ring, the sealed
 * secret store, the event store and the audit log, each with the app's keys. `dev`, `start` and the
 * CLI commands that work beside them (`secrets`, `keys`, `dlq`, `replay`, `audit`) all open them here.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { KEYRING_FILE, openAppKeyRing, openAppSecrets } from "./app-secrets.ts";
import {
  AUDIT_FILE,
  AUDIT_KEY_FILE,
  AUDIT_KIND,
  type AuditEntry,
  type AuditLog,
  ensureAuditKey,
  newNodeId,
  openAuditLog,
  openNodeAuditLog,
} from "./audit/index.ts";
import { type AuditStream, openSqliteStore } from "./bus/index.ts";
import { toPalisadeError } from "./errors.ts";
import { type KvStore, openSqliteKvStore } from "./kv/index.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger } from "./observe/index.ts";
import { type AppStore, EVENTS_FILE, openStore, type StoreOptions } from "./open-store.ts";
import type { KeyVersion } from "./security/index.ts";

export * from "./app-secrets.ts";

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

/** Key-value namespaces of ctx.kv, inside the data dir. */
export const KV_FILE = "kv.db";
/** Recent spans for `palisade traces`, inside the data dir. */
export const TRACES_FILE = "traces.db";
/** Counts of capability use and refusals per function, inside the data dir. */
export const USAGE_FILE = "usage.db";

/** Where `palisade build` writes signed bundles, relative to the app (read by `palisade start`). */
export const DIST_DIR = "dist";

/**
 * The app's kv store (`.palisade/kv.db`, behind ctx.kv) opened with its key ring as the platform
 * opens it, for commands that read it beside a running app (WAL: readers and the writer share it);
 * undefined when no function has written yet, so a read creates nothing.
 */
export function openAppKv(app: AppModel): KvStore | undefined {
  const file = join(app.dataDir, KV_FILE);
  return existsSync(file) ? openSqliteKvStore(file, openAppKeyRing(app.dir, false)) : undefined;
}
