/**
 * Envelope encryption for everything sensitive at rest. A master key (32 bytes, from
 * `PALISADE_MASTER_KEY` or the app's `keys/master.key`) wraps versioned data keys kept in
 * `.palisade/keyring.json`; records are sealed with the active data key using AES-256-GCM from
 * node:crypto, a fresh 96-bit random nonce each time, and associated data naming the record (an
 * event id, a kv key, a secret name), so a ciphertext moved to another record does not open.
 *
 * Sealed text is `pal1.<version>.<base64url(nonce | ciphertext | tag)>`: the version says which
 * data key opens it, so rotation can move records one by one and resume after a crash. Random
 * nonces are safe for about 2^32 seals per data key (NIST SP 800-38D): seals are counted per version
 * (`keyring.seals.json`) and the ring rotates on its own at SEAL_LIMIT (2^30), a quarter of that.
 *
 * A running platform holds a lease (`keyring.leases/<pid>.json`, renewed every second) naming the
 * versions it sealed with in the last one to two seconds and the one it is about to use; `retire`
 * refuses a version a live process names, so a platform that has not yet seen a rotation, or has a
 * record sealed with the old key on its way to disk, cannot lose it. Not covered: a record held in
 * memory for longer than a lease period between sealing and writing, and short-lived CLI processes
 * (they hold no lease; each seals within milliseconds of reading the ring). Every change to the file
 * (create, rotate, retire) holds `keyring.lock`, so concurrent rotations add one version each.
 *
 * `mac` authenticates records that are not secret but decide what runs (delivery rows): HMAC-SHA256
 * under a key derived (HKDF-SHA256) from the master key, so it outlives data key rotation, and
 * someone who can write the stores but does not hold the master key cannot forge one.
 */
import { createHmac, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { PalisadeError } from "../errors.ts";
import { gcmOpen, gcmSeal } from "./aes-gcm.ts";
import { SECURITY_KEY_IN_USE, SECURITY_KEYRING, SECURITY_SEAL_BROKEN } from "./errors.ts";
import { withFileLock } from "./file-lock.ts";
import { openSealCounter } from "./seal-counter.ts";
import { leaseHolders, newLeaseName, removeLease, writeLease } from "./sealing-lease.ts";

/** Seals per data key after which the ring rotates on its own: 2^30, well below GCM's 2^32. */
export const SEAL_LIMIT = 2 ** 30;
/** How often a platform renews its sealing lease. */
export const LEASE_MS = 1000;

export interface KeyRingOptions {
  /** Seals with one data key after which a new one becomes active. @default SEAL_LIMIT */
  sealLimit?: number;
  /** Told the new version after a rotation at the seal limit (to audit it). */
  onAutoRotate?: (version: number) => void;
}

/** Wraps and unwraps data keys; a cloud KMS can implement this instead of a local master key. */
export interface MasterKeyProvider {
  readonly name: string;
  wrap(dataKey: Buffer, version: number): string;
  unwrap(wrapped: string, version: number): Buffer;
  /** A 32-byte key for `purpose`, derived from the master key; the same for as long as it is. */
  deriveKey(purpose: string): Buffer;
}

/** Seals and opens records; what the stores see of the key ring. */
export interface Sealer {
  /** Ciphertext of `plaintext`, bound to `record`. */
  seal(plaintext: string, record: string): string;
  /** The plaintext; throws if the text was changed, moved to another record or the key is gone. */
  open(sealed: string, record: string): string;
  /** Version of the data key that sealed `sealed` (0 for plaintext written before encryption). */
  versionOf(sealed: string): number;
  /** Version new seals use. */
  activeVersion(): number;
  /** Authentication code (base64url HMAC-SHA256) of `text`: proves the platform wrote it. */
  mac(text: string): string;
}

export interface KeyRing extends Sealer {
  /** Every data key version, oldest first, with how many records it has sealed. */
  versions(): { version: number; createdAt: string; retired: boolean; seals: number }[];
  /** Adds a data key version and makes it the active one; returns it. */
  rotate(): number;
  /**
   * Marks a version retired: its key is deleted. Refuses (PAL_SECURITY_KEY_IN_USE) while a running
   * platform may still seal with it; the caller checks no stored record still uses it.
   */
  retire(version: number): void;
  /** Pids of running platforms that may still be sealing with `version` (their leases name it). */
  sealingWith(version: number): number[];
  /**
   * Declares this process a sealer until close(): renews its lease every `intervalMs` (picking up a
   * rotation at once) and stores the seal counts. @default intervalMs LEASE_MS
   */
  holdLease(intervalMs?: number): { close(): void };
  /** Stores the seal counts not yet on disk. */
  flush(): void;
}

/** The wrapped data keys (`keyring.json`, or the `ring` entry of a deployment's key bucket). */
export interface KeyRingFile {
  active: number;
  keys: { version: number; wrapped: string; createdAt: string; retired?: boolean }[];
}

const PREFIX = "pal1.";
/** HKDF `info` of the record authentication key: a new purpose gets a new name, never this one. */
export const MAC_PURPOSE = "palisade.record-mac.v1";

/**
 * Opens the key ring at `file` (creating version 1 if there is none). The file is re-read when it
 * changes, so `palisade keys rotate` run beside a live platform takes effect without a restart.
 */
export function openKeyRing(file: string, master: MasterKeyProvider, options: KeyRingOptions = {}): KeyRing {
  let state: KeyRingFile;
  let mtime = 0;
  const keys = new Map<number, Buffer>();
  const base = file.replace(/\.json$/, "");
  const counter = openSealCounter(`${base}.seals.json`);
  const leaseDir = `${base}.leases`;
  const sealLimit = options.sealLimit ?? SEAL_LIMIT;
  // Versions sealed with since the last lease renewal, and in the period before it.
  let sealedNow = new Set<number>();
  let sealedBefore = new Set<number>();

  function load(): void {
    state = JSON.parse(readFileSync(file, "utf8")) as KeyRingFile;
    mtime = statSync(file).mtimeMs;
    keys.clear();
    for (const k of state.keys) {
      if (k.retired) continue;
      try {
        keys.set(k.version, master.unwrap(k.wrapped, k.version));
      } catch (err) {
        throw new PalisadeError(
          SECURITY_KEYRING,
          `Cannot unwrap data key ${k.version} of ${file}: wrong master key (${master.name})?`,
          { cause: err },
        );
      }
    }
  }
  function save(): void {
    const tmp = `${file}.${process.pid}.tmp`;
    // fsync'd before the rename and the directory after it: records sealed with a new key are
    // fsync'd, so the key must be on disk first.
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    chmodSync(file, 0o600);
    const dir = openSync(dirname(file), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    load();
  }
  // Picks up a rotation done by another process (at most one stat per second).
  let checkedAt = 0;
  function fresh(force = false): void {
    const now = Date.now();
    if (!force && now - checkedAt < 1000) return;
    checkedAt = now;
    if (statSync(file).mtimeMs !== mtime) load();
  }
  // Every read-modify-write of the file holds this lock: two processes rotating at once (a
  // platform at its seal limit, `palisade keys rotate`) would otherwise both add version N+1, and
  // the records sealed under the key that lost the race would never open again.
  const lock = `${base}.lock`;
  /** Adds a data key and makes it active; `ifAtLimit`: only if the active one (re-read) still is. */
  function rotate(ifAtLimit = false): number {
    return withFileLock(lock, () => {
      load();
      if (ifAtLimit && counter.total(state.active) < sealLimit) return state.active;
      const version = Math.max(...state.keys.map((k) => k.version)) + 1;
      state.keys.push({
        version,
        wrapped: master.wrap(randomBytes(32), version),
        createdAt: new Date().toISOString(),
      });
      state.active = version;
      save();
      return version;
    });
  }
  /** The version to seal with: the active one, unless it reached the limit (then a new one). */
  function sealingVersion(): number {
    if (counter.total(state.active) < sealLimit) return state.active;
    const before = state.active;
    const version = rotate(true); // another process may have rotated already
    if (version !== before) options.onAutoRotate?.(version);
    return version;
  }
  function renewLease(name: string): void {
    fresh(true);
    const versions = new Set([state.active, ...sealedBefore, ...sealedNow]);
    sealedBefore = sealedNow;
    sealedNow = new Set();
    writeLease(
      leaseDir,
      name,
      [...versions].sort((a, b) => a - b),
    );
  }

  if (existsSync(file)) load();
  else {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    withFileLock(lock, () => {
      if (existsSync(file)) return load(); // created by another process meanwhile
      state = {
        active: 1,
        keys: [{ version: 1, wrapped: master.wrap(randomBytes(32), 1), createdAt: new Date().toISOString() }],
      };
      save();
    });
  }

  function keyFor(version: number): Buffer {
    let key = keys.get(version);
    if (key === undefined) {
      load(); // a version added by another process since we last looked
      key = keys.get(version);
    }
    if (key === undefined)
      throw new PalisadeError(SECURITY_SEAL_BROKEN, `Data key version ${version} is retired or unknown`);
    return key;
  }

  /** Retires `version` unless it is active or a live platform's lease names it. */
  function retire(version: number): void {
    load();
    if (version === state.active)
      throw new PalisadeError(SECURITY_KEYRING, `Data key ${version} is the active one; rotate first`);
    const holders = leaseHolders(leaseDir, version);
    if (holders.length > 0)
      throw new PalisadeError(
        SECURITY_KEY_IN_USE,
        `Data key ${version} may still be sealing records in a running platform (pid ${holders.join(", ")}); it moves to the new key within a few seconds of a rotation, retry then`,
      );
    const k = state.keys.find((x) => x.version === version);
    if (k === undefined) throw new PalisadeError(SECURITY_KEYRING, `There is no data key version ${version}`);
    k.retired = true;
    k.wrapped = "";
    save();
  }

  const macKey = master.deriveKey(MAC_PURPOSE);
  return {
    mac: (text) => createHmac("sha256", macKey).update(text, "utf8").digest("base64url"),
    seal(plaintext, record) {
      fresh();
      const version = sealingVersion();
      counter.add(version);
      sealedNow.add(version);
      return sealWith(keyFor(version), version, plaintext, record);
    },
    open: (sealed, record) => openWith(keyFor, sealed, record),
    versionOf,
    activeVersion() {
      fresh();
      return state.active;
    },
    versions: () =>
      state.keys.map((k) => ({
        version: k.version,
        createdAt: k.createdAt,
        retired: k.retired === true,
        seals: counter.total(k.version),
      })),
    rotate: () => rotate(),
    retire: (version) => withFileLock(lock, () => retire(version)),
    sealingWith: (version) => leaseHolders(leaseDir, version),
    holdLease(intervalMs = LEASE_MS) {
      const name = newLeaseName();
      renewLease(name);
      const timer = setInterval(() => {
        try {
          renewLease(name);
        } catch {
          // The lease on disk is kept as it was: it still names the older versions, which only
          // makes retire wait longer, never lets it through early.
        }
      }, intervalMs);
      timer.unref();
      return {
        close() {
          clearInterval(timer);
          removeLease(leaseDir, name);
          try {
            counter.flush();
          } catch {
            // Closing must finish (the app's directory may be gone): the counts lost are at most
            // one flush period's, an undercount the limit's margin below 2^32 absorbs.
          }
        },
      };
    },
    flush: () => counter.flush(),
  };
}

/** `plaintext` sealed with data key `key` of `version`, bound to `record`. */
export function sealWith(key: Buffer, version: number, plaintext: string, record: string): string {
  return `${PREFIX}${version}.${gcmSeal(key, Buffer.from(plaintext, "utf8"), record)}`;
}

/** The plaintext of `sealed` (bound to `record`), opened with the data key `keyFor` gives for its version. */
export function openWith(keyFor: (version: number) => Buffer, sealed: string, record: string): string {
  const version = versionOf(sealed);
  // Plaintext where a sealed record belongs is refused: accepting it would let someone who can
  // write the store (but has no key) plant values, such as a known API key.
  if (version === 0)
    throw new PalisadeError(SECURITY_SEAL_BROKEN, `A record (${record.split("\0")[0]}) is not sealed`);
  const body = sealed.slice(sealed.indexOf(".", PREFIX.length) + 1);
  try {
    return gcmOpen(keyFor(version), body, record).toString("utf8");
  } catch (err) {
    if (err instanceof PalisadeError) throw err;
    throw new PalisadeError(
      SECURITY_SEAL_BROKEN,
      `Cannot decrypt a record (${record.split("\0")[0]}): it was changed or does not belong here`,
      { cause: err },
    );
  }
}

/** Version of the data key that sealed `sealed`; 0 for text that is not sealed. */
export function versionOf(sealed: string): number {
  if (!sealed.startsWith(PREFIX)) return 0;
  const end = sealed.indexOf(".", PREFIX.length);
  const version = Number(sealed.slice(PREFIX.length, end));
  return Number.isInteger(version) && version > 0 ? version : 0;
}
