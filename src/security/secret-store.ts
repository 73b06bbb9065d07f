/**
 * The app's secret store: `.palisade/secrets.json` (mode 0600 in a 0700 directory) holding each
 * secret's value sealed by the key ring (AES-256-GCM, bound to the secret's name), never plaintext.
 * A rotated secret keeps its previous value valid for a grace period, so senders and functions can
 * switch over without downtime. Values are never logged and never passed through the environment.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SECURITY_SECRET_MISSING, SECURITY_SECRET_NAME } from "./errors.ts";
import type { Sealer } from "./key-ring.ts";

export interface SecretStore {
  /** The current value. */
  get(name: string): string | undefined;
  /** Every value valid now: the current one, then the previous one while its grace period lasts. */
  values(name: string): string[];
  set(name: string, value: string): void;
  /** Replaces the value; the old one stays valid for `graceSec` seconds. */
  rotate(name: string, value: string, graceSec: number): void;
  remove(name: string): boolean;
  /** Names only, never values, with the end of a rotation's grace period if one is running. */
  list(): { name: string; previousUntil?: string }[];
  /** Re-seals every value not sealed with the active data key; returns how many. */
  reencrypt(): number;
  /** How many values each data key version seals (0: plaintext from before encryption). */
  versions(): Map<number, number>;
}

interface Entry {
  value: string;
  previous?: string;
  previousUntil?: number;
}

/** Secret names: upper-case letters, digits and underscores, as environment-style names. */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

const record = (name: string) => `secret:${name}`;
const previousRecord = (name: string) => `secret-previous:${name}`;

/** Opens the store at `file` (created on first write), sealing values with `sealer`. */
export function openFileSecretStore(file: string, sealer: Sealer): SecretStore {
  const read = (): Record<string, Entry> => {
    if (!existsSync(file)) return {};
    const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, Entry | string>;
    // A plain string (a store from before encryption, or a planted value) is refused when read.
    return Object.fromEntries(
      Object.entries(raw).map(([name, entry]) => [
        name,
        typeof entry === "string" ? { value: entry } : entry,
      ]),
    );
  };
  const write = (values: Record<string, Entry>) => {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Write then rename: a crash leaves the old file or the new one, never half of one.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  };
  const checkName = (name: string) => {
    if (!SECRET_NAME.test(name))
      throw new PalisadeError(
        SECURITY_SECRET_NAME,
        `Invalid secret name "${name}"; use upper-case letters, digits and _`,
        {
          status: 400,
        },
      );
  };
  const inGrace = (e: Entry) => e.previous !== undefined && (e.previousUntil ?? 0) > Date.now();

  return {
    get(name) {
      const entry = read()[name];
      return entry === undefined ? undefined : sealer.open(entry.value, record(name));
    },
    values(name) {
      const entry = read()[name];
      if (entry === undefined) return [];
      const current = sealer.open(entry.value, record(name));
      return inGrace(entry) && entry.previous !== undefined
        ? [current, sealer.open(entry.previous, previousRecord(name))]
        : [current];
    },
    set(name, value) {
      checkName(name);
      write({ ...read(), [name]: { value: sealer.seal(value, record(name)) } });
    },
    rotate(name, value, graceSec) {
      checkName(name);
      const all = read();
      const old = all[name];
      if (old === undefined)
        throw new PalisadeError(
          SECURITY_SECRET_MISSING,
          `Secret "${name}" is not set; use secrets set first`,
        );
      const previous = sealer.seal(sealer.open(old.value, record(name)), previousRecord(name));
      all[name] = {
        value: sealer.seal(value, record(name)),
        previous,
        previousUntil: Date.now() + graceSec * 1000,
      };
      write(all);
    },
    remove(name) {
      const values = read();
      if (!(name in values)) return false;
      delete values[name];
      write(values);
      return true;
    },
    list() {
      return Object.entries(read())
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, e]) =>
          inGrace(e) ? { name, previousUntil: new Date(e.previousUntil ?? 0).toISOString() } : { name },
        );
    },
    reencrypt() {
      const all = read();
      const active = sealer.activeVersion();
      let moved = 0;
      for (const [name, e] of Object.entries(all)) {
        if (sealer.versionOf(e.value) !== active) {
          e.value = sealer.seal(sealer.open(e.value, record(name)), record(name));
          moved += 1;
        }
        if (e.previous !== undefined && !inGrace(e)) {
          delete e.previous;
          delete e.previousUntil;
        } else if (e.previous !== undefined && sealer.versionOf(e.previous) !== active) {
          e.previous = sealer.seal(sealer.open(e.previous, previousRecord(name)), previousRecord(name));
          moved += 1;
        }
      }
      if (moved > 0) write(all);
      return moved;
    },
    versions() {
      const counts = new Map<number, number>();
      for (const e of Object.values(read())) {
        for (const v of [e.value, e.previous]) {
          if (v === undefined) continue;
          const version = sealer.versionOf(v);
          counts.set(version, (counts.get(version) ?? 0) + 1);
        }
      }
      return counts;
    },
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
