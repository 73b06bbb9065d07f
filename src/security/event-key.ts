/**
 * The platform's event key: an Ed25519 pair with which Palisade signs the events it produces (emits,
 * platform events) and the events it delivers out of the platform (sinks), in the CloudEvents
 * verifiability extension's `dssematerial`, so a downstream consumer can check that Palisade sent
 * them and nobody changed them. It is its own key, apart from the bundle-signing key (`keys/*.pub`
 * verify bundles; an event key must not be able to sign one) and the audit key.
 *
 * The private half is `keys/events.key` (PKCS8 PEM, mode 0600, gitignored as keys/*.key); each public
 * half is `keys/events/<keyid>.pub`, never overwritten, so rotation keeps every earlier key id
 * verifiable: `palisade keys event-key` prints them all as a JWKS for receivers.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SECURITY_KEY_MISSING } from "./errors.ts";

/** The private event key, relative to the app directory. */
export const EVENT_KEY_FILE = "keys/events.key";
/** Public halves of every event key the app has had (`<keyid>.pub`), relative to the app directory. */
export const EVENT_TRUST_DIR = "keys/events";

/** The signing half in use: its key id (`events-<16 hex of the SPKI's SHA-256>`) and private key. */
export interface EventKey {
  readonly keyid: string;
  readonly privateKey: KeyObject;
}

/** Key id of an event public key: `events-` and the first 16 hex digits of its SPKI DER's SHA-256. */
export function eventKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return `events-${createHash("sha256").update(der).digest("hex").slice(0, 16)}`;
}

/** The app's event key; a new one is made when the app has none (its public half first). */
export function ensureEventKey(appDir: string): EventKey {
  const path = join(appDir, EVENT_KEY_FILE);
  if (!existsSync(path)) writeEventKey(appDir, path, "wx");
  return readEventKey(path);
}

/**
 * Makes a new event key that signs from the next start on; the old public half stays in
 * keys/events/, so what the old key signed still verifies. Returns the new key id.
 */
export function rotateEventKey(appDir: string): string {
  const path = join(appDir, EVENT_KEY_FILE);
  const next = `${path}.next`;
  rmSync(next, { force: true });
  const keyid = writeEventKey(appDir, next, "wx");
  renameSync(next, path);
  return keyid;
}

/** Every event public key the app has had, by key id (for verifying what it signed). */
export function loadEventTrust(appDir: string): Map<string, KeyObject> {
  const dir = join(appDir, EVENT_TRUST_DIR);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".pub"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw keyError(dir, err);
  }
  const trust = new Map<string, KeyObject>();
  for (const name of names.sort()) {
    const path = join(dir, name);
    try {
      const pem = readFileSync(path, "utf8");
      if (pem.includes("PRIVATE KEY"))
        throw new Error("it holds a private key; put only the public half there");
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== "ed25519") throw new Error("it is not an Ed25519 public key");
      trust.set(eventKeyId(key), key);
    } catch (err) {
      throw keyError(path, err);
    }
  }
  return trust;
}

/** The event keys as a JWKS (RFC 7517), each with its `kid`: what a receiver configures to verify. */
export function eventKeysJwks(trust: ReadonlyMap<string, KeyObject>): { keys: object[] } {
  return {
    keys: [...trust].map(([kid, key]) => ({
      ...key.export({ format: "jwk" }),
      kid,
      use: "sig",
      alg: "EdDSA",
    })),
  };
}

// The public half first, so a process killed in between never leaves a key nobody trusts.
function writeEventKey(appDir: string, path: string, flag: "wx"): string {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const keyid = eventKeyId(publicKey);
  mkdirSync(join(appDir, EVENT_TRUST_DIR), { recursive: true, mode: 0o700 });
  const pub = join(appDir, EVENT_TRUST_DIR, `${keyid}.pub`);
  try {
    writeFileSync(pub, publicKey.export({ type: "spki", format: "pem" }), { flag });
    writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag });
  } catch (err) {
    // Another process made the key first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw keyError(path, err);
  }
  return keyid;
}

function readEventKey(path: string): EventKey {
  try {
    const privateKey = createPrivateKey(readFileSync(path, "utf8"));
    if (privateKey.asymmetricKeyType !== "ed25519") throw new Error("it is not an Ed25519 private key");
    return { keyid: eventKeyId(createPublicKey(privateKey)), privateKey };
  } catch (err) {
    throw keyError(path, err);
  }
}

function keyError(path: string, err: unknown): PalisadeError {
  const reason = err instanceof Error ? err.message : String(err);
  return new PalisadeError(
    SECURITY_KEY_MISSING,
    `Cannot use event key "${path}": ${reason}; remove it to have a new one made (palisade keys event-key --rotate)`,
    { cause: err },
  );
}
