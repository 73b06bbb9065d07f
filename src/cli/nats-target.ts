/**
 * Operator commands against a NATS-backed deployment: `--nats <urls>` (or PALISADE_NATS_URL),
 * `--nats-creds` and `--nats-ca` on `dlq`, `replay`, `audit`, `keys`, `secrets`, `permissions` and
 * `traces`. Without them a command works on the app directory's files, as before.
 */

import { join } from "node:path";
import { pino } from "pino";
import { appMasterKey, openAppStore, type SealedStores } from "../app-files.ts";
import type { AppModel } from "../manifest/index.ts";
import { createLogger } from "../observe/index.ts";
import type { AppStore } from "../open-store.ts";
import { openScaleOut, type ScaleOut } from "../scale-out.ts";
import { SECRETS_MARK_FILE, type SharedKeyRing, type SharedSecretStore } from "../security/index.ts";
import type { OperatorNatsFlags } from "./nats-flags.ts";
import type { NatsFlags } from "./platform-ops.ts";

export { type OperatorNatsFlags, withNatsTarget } from "./nats-flags.ts";

/**
 * The deployment's NATS side when the flags (or PALISADE_NATS_URL) name one, else undefined. Errors
 * (unreachable, refused credentials) are PalisadeErrors naming the redacted URL and the fix.
 */
export async function openNatsTarget(app: AppModel, flags: OperatorNatsFlags): Promise<ScaleOut | undefined> {
  const natsFlags: NatsFlags = {
    ...(flags.nats === undefined ? {} : { nats: flags.nats }),
    ...(flags.natsCreds === undefined ? {} : { natsCreds: flags.natsCreds }),
    ...(flags.natsCa === undefined ? {} : { natsCa: flags.natsCa }),
  };
  return openScaleOut(app, natsFlags, {
    role: "operator",
    mode: "dev",
    logger: createLogger({ level: "warn", destination: pino.destination(2) }),
  });
}

/**
 * Runs `fn` with the app's store: on the NATS deployment the flags name, or the app's SQLite file;
 * closes both afterwards.
 */
export async function withOperatorStore<T>(
  app: AppModel,
  flags: OperatorNatsFlags,
  fn: (store: AppStore) => Promise<T>,
): Promise<T> {
  const target = await openNatsTarget(app, flags);
  try {
    // On NATS the records are sealed with the deployment's shared key ring, not the app dir's.
    const options =
      target === undefined
        ? {}
        : { nats: target.backend, sealer: await target.openKeyRing(appMasterKey(app.dir, false)) };
    const store = await openAppStore(app, options);
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  } finally {
    await target?.close();
  }
}

/** The deployment's shared key ring and secret store, opened with this app's master key (which stays here). */
export interface SharedKeys {
  readonly target: ScaleOut;
  readonly keyRing: SharedKeyRing;
  readonly secrets: SharedSecretStore;
  /** Where they are, for messages. */
  readonly where: string;
  close(): Promise<void>;
}

/** The shared keys of the NATS deployment the flags name; undefined without `--nats` (the app's files). */
export async function openSharedKeys(
  app: AppModel,
  flags: OperatorNatsFlags,
): Promise<SharedKeys | undefined> {
  const target = await openNatsTarget(app, flags);
  if (target === undefined) return undefined;
  try {
    const keyRing = await target.openKeyRing(appMasterKey(app.dir, false));
    const secrets = await target.openSecrets(keyRing, { markFile: join(app.dataDir, SECRETS_MARK_FILE) });
    return {
      target,
      keyRing,
      secrets,
      where: `NATS (${target.deployment.link.display})`,
      close: () => target.close(),
    };
  } catch (err) {
    await target.close();
    throw err;
  }
}

/**
 * Every store of the NATS deployment that holds sealed records, with its shared key ring (for
 * `palisade keys --nats`): the event store and the secret store. Each node's `.palisade/kv.db`
 * (ctx.kv) is not in NATS: it is counted and re-sealed only on the node that holds it.
 */
export async function openSharedSealedStores(keys: SharedKeys, app: AppModel): Promise<SealedStores> {
  const store = await openAppStore(app, { nats: keys.target.backend, sealer: keys.keyRing });
  return {
    keyRing: keys.keyRing,
    where: keys.where,
    async versions() {
      return [
        { store: "events (NATS)", counts: await store.maintenance.sealedVersions() },
        { store: "secrets (NATS)", counts: keys.secrets.versions() },
      ];
    },
    async reencrypt(limit) {
      const n = await store.maintenance.reencrypt(limit);
      return n > 0 ? n : keys.secrets.reencrypt();
    },
    async close() {
      await store.close();
      await keys.close();
    },
  };
}
