/**
 * The app's audit key: an Ed25519 pair of its own for signing audit checkpoints, so the host that
 * runs the app needs no bundle-signing key. The private half is `keys/audit.key` (PKCS8 PEM, mode
 * 0600, gitignored as keys/*.key); its public half goes to `keys/audit/audit.pub`, and every
 * `keys/audit/*.pub` is a trusted audit key. They sit apart from `keys/*.pub` on purpose: those are
 * the keys bundles are verified against, and the audit key must not be able to sign a bundle.
 * Logs checkpointed with the signing key before the audit key existed still verify: `keys/*.pub`
 * stay trusted for checkpoints.
 */
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { loadTrustedKeys } from "../supply/index.ts";
import { AUDIT_BAD_KEY } from "./errors.ts";

/** The private audit key, relative to the app directory. */
export const AUDIT_KEY_FILE = "keys/audit.key";
/** Trusted audit public keys (`*.pub`), relative to the app directory. */
export const AUDIT_TRUST_DIR = "keys/audit";

/** The app's audit private key as PEM, created with its public half first if the app has none. */
export function ensureAuditKey(appDir: string): string {
  const path = join(appDir, AUDIT_KEY_FILE);
  if (!existsSync(path)) {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    mkdirSync(join(appDir, AUDIT_TRUST_DIR), { recursive: true, mode: 0o700 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    try {
      writeFileSync(path, pem, { mode: 0o600, flag: "wx" });
      writeFileSync(
        join(appDir, AUDIT_TRUST_DIR, "audit.pub"),
        publicKey.export({ type: "spki", format: "pem" }),
      );
    } catch (err) {
      // Another process made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw readError(path, err);
    }
  }
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw readError(path, err);
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
