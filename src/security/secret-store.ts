/**
 * The app's secret store: `.palisade/secrets.json` (mode 0600 in a 0700 directory) holding each
 * secret's value sealed by the key ring (AES-256-GCM, bound to the secret's name and the file's
 * generation), never plaintext. A rotated secret keeps its previous value valid for a grace period,
 * so senders and functions can switch over without downtime. Values are never logged and never
 * passed through the environment.
 *
 * Rollback: every write raises the file's generation (secrets-file.ts). A store opened with a
 * `floor` (the newest generation recorded elsewhere: the app passes the one in its audit log) refuses
 * a file older than that, so restoring an older copy cannot bring back a revoked or rotated key. A
 * running store also remembers the newest generation it has read: if an older file appears, it keeps
 * serving the last one it trusted and reports the rollback. Not protected: someone who restores the
 * secret store and every record of its newer generations together (see the audit anchor), and
 * deleting the file, which removes every secret (requests then fail closed).
 */
import { statSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { SECURITY_ROLLBACK, SECURITY_SECRET_MISSING, SECURITY_SECRET_NAME } from "./errors.ts";
import type { Sealer } from "./key-ring.ts";
import { dropExpired, rotateEntry, snapshotReads } from "./secret-snapshot.ts";
import {
  openEntries,
  readSecretsFile,
  type SecretEntry,
  type SecretsSnapshot,
  writeSecretsFile,
} from "./secrets-file.ts";

/** What the platform reads of a secret store, whichever backs it (a file, or a NATS bucket). */
export interface SecretReader {
  /** The current value. */
  get(name: string): string | undefined;
  /** Every value valid now: the current one, then the previous one while its grace period lasts. */
  values(name: string): string[];
  /** Names only, never values, with the end of a rotation's grace period if one is running. */
  list(): { name: string; previousUntil?: string }[];
  /** How many values each data key version seals (0: plaintext from before encryption). */
  versions(): Map<number, number>;
  /** The newest generation of the store this one has read or written (0: none yet). */
  generation(): number;
}

export interface SecretStore extends SecretReader {
  set(name: string, value: string): void;
  /** Replaces the value; the old one stays valid for `graceSec` seconds. */
  rotate(name: string, value: string, graceSec: number): void;
  remove(name: string): boolean;
  /** Re-seals every value not sealed with the active data key; returns how many. */
  reencrypt(): number;
}

export interface SecretStoreOptions {
  /** The newest generation recorded outside the file; an older file is refused. @default 0 */
  floor?: number;
  /** Told (once per generation found) when the file became older than one already read. */
  onRollback?: (found: number, expected: number) => void;
}

/** Secret names: upper-case letters, digits and underscores, as environment-style names. */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * Opens the store at `file` (created on first write), sealing values with `sealer`. Throws
 * SECURITY_ROLLBACK if the file is older than `options.floor`.
 */
export function openFileSecretStore(
  file: string,
  sealer: Sealer,
  options: SecretStoreOptions = {},
): SecretStore {
  let highest = options.floor ?? 0;
  let trusted: SecretsSnapshot = { generation: highest, entries: {} };
  let reported = -1;
  const first = readSecretsFile(file, sealer);
  if (first !== undefined && first.generation < highest) throw rolledBack(file, first.generation, highest);
  if (first !== undefined) [trusted, highest] = [first, first.generation];

  // The file is parsed and its head opened again only when it changed: same inode, size, mtime and
  // ctime means the same bytes (writes go through a rename, and ctime cannot be set back by hand).
  let parsed: { stamp: string; snapshot: SecretsSnapshot | undefined } | undefined;
  const load = (): SecretsSnapshot | undefined => {
    const st = statSync(file, { throwIfNoEntry: false });
    const stamp = st === undefined ? "" : `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (parsed?.stamp !== stamp) parsed = { stamp, snapshot: readSecretsFile(file, sealer) };
    return parsed.snapshot;
  };
  // The file as it is now, or the last one trusted if it went back in time.
  const read = (): SecretsSnapshot => {
    const now = load();
    if (now === undefined) return { generation: highest, entries: {} }; // deleted: nothing is valid
    if (now.generation >= highest) {
      [trusted, highest] = [now, now.generation];
      return now;
    }
    if (reported !== now.generation) options.onRollback?.(now.generation, highest);
    reported = now.generation;
    return trusted;
  };
  // Applies `change` to the entries in plaintext and writes them as the next generation.
  const update = <T>(change: (plain: Record<string, SecretEntry>) => T): T => {
    const now = readSecretsFile(file, sealer);
    if (now !== undefined && now.generation < highest) throw rolledBack(file, now.generation, highest);
    const plain = now === undefined ? {} : openEntries(now, sealer);
    const result = change(plain);
    trusted = writeSecretsFile(file, sealer, highest + 1, plain);
    highest = trusted.generation;
    return result;
  };
  const reads = snapshotReads(read, sealer);

  return {
    get: reads.get,
    values: reads.values,
    list: reads.list,
    versions: reads.versions,
    generation: () => highest,
    set(name, value) {
      checkName(name);
      update((plain) => {
        plain[name] = { value };
      });
    },
    rotate(name, value, graceSec) {
      checkName(name);
      update((plain) => rotateEntry(plain, name, value, graceSec));
    },
    remove(name) {
      if (!(name in read().entries)) return false;
      return update((plain) => delete plain[name]);
    },
    reencrypt() {
      const stale = reads.stale();
      if (stale > 0) update(dropExpired);
      return stale;
    },
  };
}

/** Throws SECURITY_SECRET_NAME unless `name` is a valid secret name. */
export function checkName(name: string): void {
  if (!SECRET_NAME.test(name))
    throw new PalisadeError(
      SECURITY_SECRET_NAME,
      `Invalid secret name "${name}"; use upper-case letters, digits and _`,
      {
        status: 400,
      },
    );
}

function rolledBack(file: string, found: number, expected: number): PalisadeError {
  return new PalisadeError(
    SECURITY_ROLLBACK,
    `Secret store "${file}" is generation ${found}, but generation ${expected} was already written: an older copy was restored, which could bring back revoked or rotated secrets. Restore the newest copy, or, if you went back on purpose, remove the file and set every secret again (palisade secrets set NAME)`,
  );
}

/** The value of a secret the app needs, or an error that says how to set it (`flags`: `--nats …` on NATS). */
export function requireSecret(store: SecretReader, name: string, appDir: string, flags = ""): string {
  const value = store.get(name);
  if (value !== undefined) return value;
  throw new PalisadeError(
    SECURITY_SECRET_MISSING,
    `Secret "${name}" is not set; run: palisade secrets set ${name} --app ${appDir}${flags}`,
    { status: 400 },
  );
}
