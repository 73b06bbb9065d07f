import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SECRETS_FILE } from "../../main.ts";
import { openFileSecretStore, type SecretStore } from "../../security/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { usageError } from "../usage-error.ts";

/** The secret store of the app in `appDir` (its `.palisade/secrets.json`). */
export function appSecrets(appDir: string): SecretStore {
  return openFileSecretStore(join(resolve(appDir), ".palisade", SECRETS_FILE));
}

/** `palisade secrets set NAME [--value V]`: the value comes from --value or standard input. */
export function runSecretsSet(name: string, opts: { app: string; value?: string }): number {
  const value = opts.value ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value === "")
    throw usageError(`Cannot set secret "${name}": the value is empty; pass --value or pipe it on stdin`);
  appSecrets(opts.app).set(name, value);
  process.stdout.write(`secret ${name} set\n`);
  return EXIT_OK;
}

/** `palisade secrets list`: names only, never values. */
export function runSecretsList(opts: { app: string; json?: boolean }): number {
  const names = appSecrets(opts.app).list();
  process.stdout.write(opts.json ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join(""));
  return EXIT_OK;
}

/** `palisade secrets rm NAME`. */
export function runSecretsRm(name: string, opts: { app: string }): number {
  if (appSecrets(opts.app).remove(name)) {
    process.stdout.write(`secret ${name} removed\n`);
    return EXIT_OK;
  }
  process.stderr.write(`palisade: no secret named "${name}"\n`);
  return EXIT_FAILURE;
}
