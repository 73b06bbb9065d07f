import { readFileSync } from "node:fs";
import { auditCommand, openAppSecrets } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import type { SecretStore } from "../../security/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { usageError } from "../usage-error.ts";

/** The secret store of the app in `appDir` (its `.palisade/secrets.json`, sealed by its key ring). */
export function appSecrets(appDir: string): SecretStore {
  return openAppSecrets(appDir);
}

/** `palisade secrets set NAME [--value V]`: the value comes from --value or standard input. */
export function runSecretsSet(name: string, opts: { app: string; value?: string }): number {
  const value = opts.value ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value === "")
    throw usageError(`Cannot set secret "${name}": the value is empty; pass --value or pipe it on stdin`);
  const store = appSecrets(opts.app);
  store.set(name, value);
  auditCommand(opts.app, {
    kind: AUDIT_KIND.secretSet,
    subject: name,
    outcome: "allowed",
    details: { generation: store.generation() },
  });
  process.stdout.write(`secret ${name} set\n`);
  return EXIT_OK;
}

/** `palisade secrets list`: names only, never values. */
export function runSecretsList(opts: { app: string; json?: boolean }): number {
  const secrets = appSecrets(opts.app).list();
  if (opts.json) process.stdout.write(`${JSON.stringify(secrets.map((s) => s.name))}\n`);
  else
    for (const s of secrets)
      process.stdout.write(
        `${s.name}${s.previousUntil ? `  (rotating: previous value valid until ${s.previousUntil})` : ""}\n`,
      );
  return EXIT_OK;
}

/** `palisade secrets rotate NAME [--value V] [--grace 24h]`: the previous value stays valid for the grace period. */
export function runSecretsRotate(name: string, opts: { app: string; value?: string; grace: number }): number {
  const value = opts.value ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value === "")
    throw usageError(`Cannot rotate secret "${name}": the value is empty; pass --value or pipe it on stdin`);
  const store = appSecrets(opts.app);
  store.rotate(name, value, opts.grace);
  auditCommand(opts.app, {
    kind: AUDIT_KIND.secretRotated,
    subject: name,
    outcome: "allowed",
    details: { graceSec: opts.grace, generation: store.generation() },
  });
  const until = new Date(Date.now() + opts.grace * 1000).toISOString();
  process.stdout.write(`secret ${name} rotated; the previous value stays valid until ${until}\n`);
  return EXIT_OK;
}

/** `palisade secrets rm NAME`. */
export function runSecretsRm(name: string, opts: { app: string }): number {
  const store = appSecrets(opts.app);
  if (store.remove(name)) {
    auditCommand(opts.app, {
      kind: AUDIT_KIND.secretRemoved,
      subject: name,
      outcome: "allowed",
      details: { generation: store.generation() },
    });
    process.stdout.write(`secret ${name} removed\n`);
    return EXIT_OK;
  }
  process.stderr.write(`palisade: no secret named "${name}"\n`);
  return EXIT_FAILURE;
}
