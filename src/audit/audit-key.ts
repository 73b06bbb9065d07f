/**
 * The app's audit key: an Ed25519 pair of its own for signing audit checkpoints, so the host that
 * runs the app needs no bundle-signing key. The private half is `keys/audit.key` (PKCS8 PEM, mode
 * 0600, gitignored as keys/*.key); each public half is `keys/audit/audit-<keyid>.pub`, never
 * overwritten (apps made before have `keys/audit/audit.pub`), and every `keys/audit/*.pub` is a
 * trusted audit key. They sit apart from `keys/*.pub` on purpose: those are the keys bundles are
 * verified against, and the audit key must not be able to sign a bundle. Logs checkpointed with the
 * signing key before the audit key existed still verify: `keys/*.pub` stay trusted for checkpoints.
 */
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { keyIdOf, loadTrustedKeys } from "../supply/index.ts";
import { headFileOf } from "./audit-anchor.ts";
import { AUDIT_FILE } from "./audit-db.ts";
import { AUDIT_BAD_KEY, AUDIT_KEY_MISSING } from "./errors.ts";
import { readHead } from "./read-head.ts";

/** The private audit key, relative to the app directory. */
export const AUDIT_KEY_FILE = "keys/audit.key";
/** Trusted audit public keys (`*.pub`), relative to the app directory. */
export const AUDIT_TRUST_DIR = "keys/audit";

/**
 * The app's audit private key as PEM. If the app has none, a new pair is made, its public half
 * written as `keys/audit/audit-<keyid>.pub` beside (never over) the keys that signed earlier
 * checkpoints, so those still verify; unless `create` is false (`palisade start`) and the app
 * already has a signed audit log: then it throws AUDIT_KEY_MISSING, for a key lost or left behind
 * on a fresh deploy should be restored, not silently replaced. `create` defaults to true.
 */
export function ensureAuditKey(appDir: string, create = true): string {
  const path = join(appDir, AUDIT_KEY_FILE);
  if (!existsSync(path)) {
    const log = join(appDir, AUDIT_FILE);
    if (!create && hasSignedLog(log))
      throw new PalisadeError(
        AUDIT_KEY_MISSING,
        `Cannot start: the audit log "${log}" has checkpoints signed with the audit key "${path}", which is missing. ` +
          `Restore "${path}" (it is gitignored, so a fresh deploy must bring it along), or, to go on under a new audit key ` +
          "(earlier checkpoints still verify against their public keys in keys/audit/), pass --new-audit-key once",
      );
    createAuditKey(appDir, path);
  }
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw readError(path, err);
  }
}

function hasSignedLog(log: string): boolean {
  return existsSync(headFileOf(log)) || (existsSync(log) && readHead(log) !== undefined);
}

// The public half first, so a process killed in between never leaves a key nobody trusts.
function createAuditKey(appDir: string, path: string): void {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pub = join(appDir, AUDIT_TRUST_DIR, `audit-${keyIdOf(publicKey).slice(0, 16)}.pub`);
  mkdirSync(join(appDir, AUDIT_TRUST_DIR), { recursive: true, mode: 0o700 });
  let wrotePub = false;
  try {
    writeFileSync(pub, publicKey.export({ type: "spki", format: "pem" }), { flag: "wx" });
    wrotePub = true;
    writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Another process made a key first: use theirs, and trust no key nobody holds.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw readError(path, err);
    if (wrotePub) rmSync(pub, { force: true });
  }
}

/** Every public key trusted for audit checkpoints: `keys/audit/*.pub`, then `keys/*.pub`. */
export function loadAuditTrust(appDir: string): string[] {
  const dir = join(appDir, AUDIT_TRUST_DIR);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".pub"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw readError(dir, err);
  }
  const own = names.sort().map((name) => {
    const path = join(dir, name);
    let pem: string;
    try {
      pem = readFileSync(path, "utf8");
      if (pem.includes("PRIVATE KEY"))
        throw new Error("it holds a private key; put only the public half there");
      createPublicKey(pem);
    } catch (err) {
      throw readError(path, err);
    }
    return pem;
  });
  return [...own, ...loadTrustedKeys(appDir)];
}

function readError(path: string, err: unknown): PalisadeError {
  const reason = err instanceof Error ? err.message : String(err);
  return new PalisadeError(AUDIT_BAD_KEY, `Cannot use audit key "${path}": ${reason}`, { cause: err });
}
