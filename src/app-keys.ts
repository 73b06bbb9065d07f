/**
 * The keys of a running app: its key ring (the app's `keyring.json`, or on NATS the deployment's,
 * shared by every node) and its secret store (the app's sealed `secrets.json`, or the deployment's),
 * with what a rotation at the seal limit and a secret store put back to an older copy report. The
 * audit log opens after them (it is where they report), so it is handed in once open (`reportTo`).
 */
import { join } from "node:path";
import { openAppKeyRing, openAppSecrets, SECRETS_FILE } from "./app-files.ts";
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import { toPalisadeError } from "./errors.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger } from "./observe/index.ts";
import type { ScaleOut } from "./scale-out.ts";
import {
  type KeyRing,
  type MasterKeyProvider,
  requireSecret,
  SECRETS_MARK_FILE,
  type SecretStore,
  type SharedKeyRing,
  type SharedSecretStore,
} from "./security/index.ts";

export interface AppKeys {
  readonly keyRing: KeyRing | SharedKeyRing;
  readonly secrets: SecretStore | SharedSecretStore;
  /** The values of a named secret valid now (two during a rotation's grace); throws naming the fix when unset. */
  secret(name: string): readonly string[];
  /** Where key events are recorded, once the audit log is open. */
  reportTo(audit: AuditLog): void;
}

export async function openAppKeys(
  app: AppModel,
  scaleOut: ScaleOut | undefined,
  options: { master: MasterKeyProvider; createKeys: boolean; logger: Logger },
): Promise<AppKeys> {
  const { logger } = options;
  let audit: AuditLog | undefined;
  const keyOptions = {
    // Seals happen only once the stores are open, after the audit log is.
    onAutoRotate: (version: number) => {
      logger.warn({ version }, "data key reached its seal limit: rotated to a new one");
      audit?.record({
        kind: AUDIT_KIND.keyRotated,
        outcome: "allowed",
        details: { version, reason: "seal limit" },
      });
    },
  };
  const keyRing =
    scaleOut === undefined
      ? openAppKeyRing(app.dir, options.createKeys, keyOptions)
      : await scaleOut.openKeyRing(options.master, {
          ...keyOptions,
          onError: (err) =>
            logger.error({ err: toPalisadeError(err).message }, "a key ring change on NATS cannot be used"),
        });
  // The gateway re-reads API keys every 2 s: an older secret store put back meanwhile is refused
  // (the keys read before stay in force) and reported here; one older at start refuses the start.
  const secretsAt = scaleOut === undefined ? SECRETS_FILE : "secrets (NATS)";
  const onRollback = (found: number, expected: number) => {
    logger.error({ found, expected }, `${secretsAt} went back to an older generation; it is ignored`);
    audit?.record({
      kind: AUDIT_KIND.rollbackDetected,
      subject: secretsAt,
      outcome: "denied",
      details: { found, expected },
    });
  };
  const secrets: SecretStore | SharedSecretStore =
    scaleOut === undefined
      ? openAppSecrets(app.dir, keyRing, onRollback)
      : await scaleOut.openSecrets(keyRing, {
          markFile: join(app.dataDir, SECRETS_MARK_FILE),
          onRollback,
        });
  return {
    keyRing,
    secrets,
    secret(name) {
      const values = secrets.values(name);
      return values.length > 0
        ? values
        : [requireSecret(secrets, name, app.dir, scaleOut === undefined ? "" : " --nats <url>")];
    },
    reportTo(log) {
      audit = log;
    },
  };
}
