/**
 * The app's secret store. Threat model of this backend: secrets are plaintext in a file only the
 * owner can read (mode 0600 in a 0700 directory); anyone with the owner's file access reads them.
 * Encryption at rest (envelope encryption under a key ring) replaces this backend behind the same
 * interface. Values are never logged and never passed through the environment.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SECURITY_SECRET_MISSING, SECURITY_SECRET_NAME } from "./errors.ts";

export interface SecretStore {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  remove(name: string): boolean;
  /** Names only, never values. */
  list(): string[];
}

/** Secret names: upper-case letters, digits and underscores, as environment-style names. */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Opens the file-backed store at `file` (created on first write). */
export function openFileSecretStore(file: string): SecretStore {
  const read = (): Record<string, string> =>
    existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>) : {};
  const write = (values: Record<string, string>) => {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Write then rename: a crash leaves the old file or the new one, never half of one.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  };
  return {
    get: (name) => read()[name],
    set(name, value) {
      if (!SECRET_NAME.test(name)) {
        throw new PalisadeError(
          SECURITY_SECRET_NAME,
          `Invalid secret name "${name}"; use upper-case letters, digits and _`,
          {
            status: 400,
          },
        );
      }
      write({ ...read(), [name]: value });
    },
    remove(name) {
      const values = read();
      if (!(name in values)) return false;
      delete values[name];
      write(values);
      return true;
    },
    list: () => Object.keys(read()).sort(),
  };
}

/** The value of a secret the app needs, or an error that says how to set it. */
export function requireSecret(store: SecretStore, name: string, appDir: string): string {
  const value = store.get(name);
  if (value !== undefined) return value;
  throw new PalisadeError(
    SECURITY_SECRET_MISSING,
    `Secret "${name}" is not set; run: palisade secrets set ${name} --app ${appDir}`,
    { status: 400 },
  );
}
