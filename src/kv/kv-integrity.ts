/**
 * Rollback detection for kv.db. Every write takes the next number of a store-wide clock as the
 * value's version, and the version is in the value's associated data: a ciphertext only opens in
 * the row and at the version it was sealed for. A digest of the set of live rows, the XOR of
 * HMAC-SHA-256(macKey, [namespace, key, version]) over them, is kept with the clock in `kv_meta`,
 * sealed by the key ring (as is the random MAC key), and updated in the write's transaction. On
 * open the digest is recomputed from the rows: a value put back to an older ciphertext (with its
 * older version), a deleted row or an added one no longer match it. The MAC is keyed because an
 * unkeyed XOR of hashes can be matched by a chosen subset of old rows (linear algebra over GF(2)).
 *
 * Not detected: kv.db replaced as a whole by an older copy of itself (its digest is older too), and
 * a value put back between two opens is served until the next open.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../errors.ts";
import { KV_ROLLED_BACK } from "./errors.ts";
import type { ValueSealer } from "./kv-store.ts";

export interface KvIntegrity {
  /** Associated data of the value of (namespace, key) at `version` (0: written before versions). */
  record(namespace: string, key: string, version: number): string;
  /**
   * Inside the caller's write transaction: row (namespace, key) goes from version `from` to a new
   * version (or is deleted when `deleted`); returns the new version.
   */
  change(namespace: string, key: string, from: number | undefined, deleted?: boolean): number;
  /** Throws KV_ROLLED_BACK if the rows no longer match the sealed digest. */
  verify(): void;
  /** Inside the caller's write transaction: re-seals the meta rows not on data key `active`; how many. */
  reseal(active: number): number;
  /** The data key version sealing each meta row. */
  sealedVersions(): number[];
}

const META_RECORD = "kv-meta";
const MAC_KEY_RECORD = "kv-mac-key";
const META_ROWS = [
  ["mac_key", MAC_KEY_RECORD],
  ["state", META_RECORD],
] as const;

/** Adds the version column and meta table to `db` if missing, and returns its integrity keeper. */
export function createKvIntegrity(db: DatabaseSync, sealer: ValueSealer, file: string): KvIntegrity {
  const columns = db.prepare("SELECT name FROM pragma_table_info('kv')").all();
  if (!columns.some((c) => c.name === "version"))
    try {
      db.exec("ALTER TABLE kv ADD COLUMN version INTEGER NOT NULL DEFAULT 0");
    } catch (err) {
      if (!/duplicate column/.test(String(err))) throw err; // another process added it first
    }
  db.exec("CREATE TABLE IF NOT EXISTS kv_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const readMeta = db.prepare("SELECT value FROM kv_meta WHERE name = ?");
  const writeMeta = db.prepare(
    "INSERT INTO kv_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
  );
  const rows = db.prepare("SELECT namespace, key, version FROM kv");

  const macKey = loadMacKey();
  function loadMacKey(): Buffer {
    db.exec("BEGIN IMMEDIATE"); // another process opening the store at the same time waits here
    try {
      let sealed = readMeta.get("mac_key")?.value;
      if (sealed === undefined) {
        // First open since versions: what is there now is the starting point. A store that had
        // versions and lost its meta rows was changed outside palisade.
        if (db.prepare("SELECT 1 FROM kv WHERE version > 0 LIMIT 1").get() !== undefined)
          throw rolledBack(file);
        const key = randomBytes(32);
        sealed = sealer.seal(key.toString("base64"), MAC_KEY_RECORD);
        writeMeta.run("mac_key", sealed);
        writeMeta.run(
          "state",
          sealer.seal(JSON.stringify({ clock: 0, digest: digestWith(key) }), META_RECORD),
        );
      }
      db.exec("COMMIT");
      return Buffer.from(sealer.open(String(sealed), MAC_KEY_RECORD), "base64");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  }
  function digestWith(key: Buffer): string {
    const sum = Buffer.alloc(32);
    for (const r of rows.iterate())
      xor(sum, macOf(key, String(r.namespace), String(r.key), Number(r.version)));
    return sum.toString("hex");
  }
  const mac = (namespace: string, key: string, version: number) => macOf(macKey, namespace, key, version);
  const state = (): { clock: number; digest: string } =>
    JSON.parse(sealer.open(String(readMeta.get("state")?.value), META_RECORD));

  return {
    record: (namespace, key, version) =>
      version === 0 ? `kv:${namespace}\0${key}` : `kv:${namespace}\0${key}\0version:${version}`,
    change(namespace, key, from, deleted = false) {
      const s = state();
      const sum = Buffer.from(s.digest, "hex");
      if (from !== undefined) xor(sum, mac(namespace, key, from));
      const version = s.clock + 1;
      if (!deleted) xor(sum, mac(namespace, key, version));
      writeMeta.run(
        "state",
        sealer.seal(JSON.stringify({ clock: version, digest: sum.toString("hex") }), META_RECORD),
      );
      return version;
    },
    reseal(active) {
      let moved = 0;
      for (const [name, record] of META_ROWS) {
        const sealed = String(readMeta.get(name)?.value);
        if (versionOf(sealed) === active) continue;
        writeMeta.run(name, sealer.seal(sealer.open(sealed, record), record));
        moved += 1;
      }
      return moved;
    },
    sealedVersions: () => META_ROWS.map(([name]) => versionOf(String(readMeta.get(name)?.value))),
    verify() {
      db.exec("BEGIN"); // rows and digest from one snapshot, whatever another process writes meanwhile
      try {
        if (digestWith(macKey) !== state().digest) throw rolledBack(file);
      } finally {
        db.exec("COMMIT");
      }
    },
  };
}

function rolledBack(file: string): PalisadeError {
  return new PalisadeError(
    KV_ROLLED_BACK,
    `The kv store "${file}" was changed outside palisade: values were removed, added or put back to older copies. Restore the newest copy of it, or remove it to start the app's kv namespaces empty`,
  );
}

function versionOf(sealed: string): number {
  return Number(/^pal1\.(\d+)\./.exec(sealed)?.[1] ?? 0);
}

function macOf(macKey: Buffer, namespace: string, key: string, version: number): Buffer {
  return createHmac("sha256", macKey)
    .update(JSON.stringify([namespace, key, version]))
    .digest();
}

function xor(into: Buffer, other: Buffer): void {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) ^ (other[i] ?? 0);
}
