import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SUPPLY_BAD_KEY, SUPPLY_KEY_MISSING } from "./errors.ts";

/** The app's private signing key (Ed25519, PKCS8 PEM, mode 0600, gitignored), relative to the app. */
export const SIGNING_KEY_FILE = "keys/signing.key";
/** Its public half (SPKI PEM); every `keys/*.pub` is a trusted key. */
export const SIGNING_PUB_FILE = "keys/signing.pub";

/** Key id of an Ed25519 public key (or of a private key's public half): SHA-256 hex of its SPKI DER. */
export function keyIdOf(key: string | KeyObject): string {
  const pub = typeof key !== "string" && key.type === "public" ? key : createPublicKey(key);
  return createHash("sha256")
    .update(pub.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/** Parses a PEM public key and checks it is Ed25519 (and not a private key in a `.pub` file). */
export function parsePublicKey(pem: string, source: string): KeyObject {
  if (pem.includes("PRIVATE KEY")) {
    throw new PalisadeError(
      SUPPLY_BAD_KEY,
      `Trusted key ${source} holds a private key; put only the public half (SPKI PEM) in keys/*.pub and rotate that key`,
    );
  }
  return checkEd25519(() => createPublicKey(pem), source, "an Ed25519 public key (SPKI PEM)");
}

/** Parses a PEM private key and checks it is Ed25519. */
export function parsePrivateKey(pem: string, source: string): KeyObject {
  return checkEd25519(() => createPrivateKey(pem), source, "an Ed25519 private key (PKCS8 PEM)");
}

/** Every trusted public key of the app: each `keys/*.pub` file, in name order; none if there is no keys/. */
export function loadTrustedKeys(appDir: string): string[] {
  const dir = join(appDir, "keys");
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".pub"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw readError(dir, err);
  }
  return names.sort().map((name) => {
    const path = join(dir, name);
    const pem = readKeyFile(path);
    parsePublicKey(pem, `"${path}"`);
    return pem;
  });
}

/** The app's private signing key (`keys/signing.key`) as PEM. */
export function loadSigningKey(appDir: string): string {
  const path = join(appDir, SIGNING_KEY_FILE);
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw readError(path, err);
    throw new PalisadeError(
      SUPPLY_KEY_MISSING,
      `Cannot sign function bundles: no signing key at "${path}"; create the app with palisade init, or put an Ed25519 private key (PKCS8 PEM, mode 0600) there and its public half in ${SIGNING_PUB_FILE}`,
    );
  }
  parsePrivateKey(pem, `"${path}"`);
  return pem;
}

/**
 * Creates the app's signing key pair as palisade init does: `keys/signing.key` (PKCS8 PEM, mode 0600)
 * and `keys/signing.pub` (SPKI PEM). Refuses to replace either file.
 */
export function generateSigningKey(appDir: string): { privateKeyPem: string; keyid: string } {
  const keyPath = join(appDir, SIGNING_KEY_FILE);
  const pubPath = join(appDir, SIGNING_PUB_FILE);
  for (const path of [keyPath, pubPath]) {
    if (existsSync(path)) {
      throw new PalisadeError(
        SUPPLY_BAD_KEY,
        `Cannot create a signing key: "${path}" already exists; remove both ${SIGNING_KEY_FILE} and ${SIGNING_PUB_FILE} to replace the key pair`,
      );
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  mkdirSync(join(appDir, "keys"), { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, privateKeyPem, { mode: 0o600, flag: "wx" });
  writeFileSync(pubPath, publicKey.export({ type: "spki", format: "pem" }), { flag: "wx" });
  return { privateKeyPem, keyid: keyIdOf(publicKey) };
}

function checkEd25519(parse: () => KeyObject, source: string, expected: string): KeyObject {
  let key: KeyObject;
  try {
    key = parse();
  } catch (err) {
    throw new PalisadeError(SUPPLY_BAD_KEY, `Key ${source} is not ${expected}`, { cause: err });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new PalisadeError(
      SUPPLY_BAD_KEY,
      `Key ${source} is a ${key.asymmetricKeyType ?? "symmetric"} key; expected ${expected}`,
    );
  }
  return key;
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw readError(path, err);
  }
}

function readError(path: string, err: unknown): PalisadeError {
  const reason = err instanceof Error ? err.message : String(err);
  return new PalisadeError(SUPPLY_BAD_KEY, `Cannot read key "${path}": ${reason}`, { cause: err });
}
