/**
 * The app's key ring and secret store, and the files that name them: apart from `app-files.ts` so a
 * command that only needs a secret (`palisade send` finding a principal's key) loads the security
 * and audit domains, not the stores and the NATS client.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AUDIT_FILE, AUDIT_KIND, checkAuditHead, loadAuditTrust } from "./audit/index.ts";
import {
  type KeyRing,
  type KeyRingOptions,
  localMasterKey,
  type MasterKeyProvider,
  openFileSecretStore,
  openKeyRing,
  type Sealer,
  type SecretStore,
} from "./security/index.ts";

/** File in the data dir that tells `palisade send` where the running gateway listens. */
export const GATEWAY_FILE = "gateway.json";

/**
 * The URL the app's running gateway wrote to `.palisade/gateway.json`; undefined when none runs
 * (no file, or one that is not what a gateway writes).
 */
export function runningGatewayUrl(appDir: string): string | undefined {
  try {
    const url = (
      JSON.parse(readFileSync(join(resolve(appDir), ".palisade", GATEWAY_FILE), "utf8")) as {
        url?: unknown;
      }
    ).url;
    return typeof url === "string" ? url : undefined;
  } catch {
    return undefined;
  }
}

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
