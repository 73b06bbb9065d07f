/**
 * Event-signing keys for the CloudEvents verifiability extension: the public keys a principal's
 * `signing:` block declares (PEM files, or a JWKS file), and a producer's private key file.
 *
 * Threat model: these keys decide whose events count as verified, so loading is strict. Only
 * Ed25519 and ECDSA P-256 are accepted (the algorithms the extension's signer and verifier use);
 * a private key where a public one belongs is refused (it would be a leaked secret in the config);
 * key ids must be present and unique, so one id can never select two keys. Not covered: whether a
 * key still belongs to its producer (rotation and revocation are the operator's: remove the key).
 */
import { createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { PalisadeError } from "../errors.ts";

type Jwk = webcrypto.JsonWebKey & { kid?: unknown };

/** A key file or JWKS that cannot be used to sign or verify events. */
export const EVENT_KEY_INVALID = "PAL_EVENT_KEY_INVALID";

/** A principal's `signing:` block: PEM public keys by id, or a JWKS file (ids are its `kid`s). */
export type VerifyingKeysSpec =
  | { keys: readonly { keyid: string; publicKey: string }[]; jwks?: undefined }
  | { jwks: string; keys?: undefined };

/** Same shape as `EventSigningKey` of the events domain. */
export interface LoadedSigningKey {
  keyid: string;
  privateKey: KeyObject;
}

const ACCEPTED = "an Ed25519 or ECDSA P-256 key";

/** The public keys of a `signing:` block by key id; relative paths are read from `baseDir`. */
export function loadVerifyingKeys(spec: VerifyingKeysSpec, baseDir: string): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  if ((spec.keys === undefined) === (spec.jwks === undefined)) {
    throw keyError(
      'the signing block needs exactly one of "keys" (PEM files by key id) or "jwks" (a JWKS file)',
    );
  }
  if (spec.keys !== undefined) {
    if (spec.keys.length === 0)
      throw keyError('"signing.keys" is empty; list at least one { keyid, publicKey }');
    for (const { keyid, publicKey } of spec.keys) {
      const path = resolve(baseDir, publicKey);
      if (typeof keyid !== "string" || keyid === "") {
        throw keyError(`the key "${path}" has no key id; give it a "keyid"`);
      }
      if (keys.has(keyid)) throw keyError(`key id "${keyid}" is declared twice; give each key its own id`);
      const pem = readKey(path);
      if (pem.includes("PRIVATE KEY")) {
        throw keyError(
          `"${path}" (key "${keyid}") holds a private key; configure only its public half (SPKI PEM) and rotate that key`,
        );
      }
      keys.set(
        keyid,
        checked(() => createPublicKey(pem), `"${path}" (key "${keyid}")`, "a PEM public key"),
      );
    }
    return keys;
  }
  const path = resolve(baseDir, spec.jwks);
  for (const [index, jwk] of readJwks(path).entries()) {
    const where = `"${path}" key ${index + 1}${typeof jwk.kid === "string" ? ` ("${jwk.kid}")` : ""}`;
    if (typeof jwk.kid !== "string" || jwk.kid === "")
      throw keyError(`${where} has no "kid"; give every key one`);
    if (keys.has(jwk.kid))
      throw keyError(`${where}: "kid" "${jwk.kid}" appears twice; give each key its own`);
    if (jwk.d !== undefined) {
      throw keyError(`${where} is a private key; publish only public keys in the JWKS and rotate that key`);
    }
    checkJwkUse(jwk, where);
    keys.set(
      jwk.kid,
      checked(() => createPublicKey({ key: jwk, format: "jwk" }), where, "a public JWK"),
    );
  }
  if (keys.size === 0) throw keyError(`"${path}" has no keys; add at least one`);
  return keys;
}

/**
 * A producer's private event-signing key: PEM (PKCS#8) or a JWK with `d`. The key id is `keyid`,
 * else the JWK's `kid`, else the file's base name without its extension.
 */
export function loadSigningKey(path: string, keyid?: string): LoadedSigningKey {
  const text = readKey(path);
  const where = `"${path}"`;
  let privateKey: KeyObject;
  let id = keyid;
  if (text.trimStart().startsWith("{")) {
    let jwk: Jwk;
    try {
      jwk = JSON.parse(text) as Jwk;
    } catch (err) {
      throw keyError(`${where} is not JSON; give a PEM (PKCS#8) private key or a JWK`, err);
    }
    if (typeof jwk !== "object" || jwk === null || typeof jwk.d !== "string") {
      throw keyError(`${where} is not a private JWK (no "d"); give the private key, not its public half`);
    }
    checkJwkUse(jwk, where);
    privateKey = checked(() => createPrivateKey({ key: jwk, format: "jwk" }), where, "a private JWK");
    if (id === undefined && typeof jwk.kid === "string" && jwk.kid !== "") id = jwk.kid;
  } else {
    if (!text.includes("PRIVATE KEY")) {
      throw keyError(
        `${where} is not a PEM private key; give the private key (PKCS#8 PEM), not a public key`,
      );
    }
    privateKey = checked(() => createPrivateKey(text), where, "a PEM private key");
  }
  id ??= basename(path, extname(path));
  if (id === "") throw keyError(`no key id for ${where}; pass one`);
  return { keyid: id, privateKey };
}

function readKey(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : String(err);
    throw keyError(
      `cannot read key file "${path}": ${reason}; check the path (relative paths are from the app)`,
      err,
    );
  }
}

function readJwks(path: string): Jwk[] {
  const text = readKey(path);
  let jwks: unknown;
  try {
    jwks = JSON.parse(text);
  } catch (err) {
    throw keyError(`"${path}" is not JSON; give a JWKS ({ "keys": [...] })`, err);
  }
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "object" && k !== null && !Array.isArray(k))) {
    throw keyError(`"${path}" is not a JWKS; give { "keys": [ <JWK>, ... ] }`);
  }
  return keys as Jwk[];
}

/** A JWK meant for something else (encryption, another algorithm) is refused rather than reused. */
function checkJwkUse(jwk: Jwk, where: string): void {
  if (jwk.use !== undefined && jwk.use !== "sig") {
    throw keyError(
      `${where} has "use": "${String(jwk.use)}"; event keys must be signing keys ("use": "sig")`,
    );
  }
  const alg = jwk.alg;
  if (alg !== undefined && alg !== "EdDSA" && alg !== "Ed25519" && alg !== "ES256") {
    throw keyError(`${where} has "alg": "${String(alg)}"; use EdDSA (Ed25519) or ES256 (P-256)`);
  }
}

function checked(parse: () => KeyObject, where: string, expected: string): KeyObject {
  let key: KeyObject;
  try {
    key = parse();
  } catch (err) {
    throw keyError(`${where} is not ${expected} Node can read; give ${ACCEPTED}`, err);
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type === "ed25519" || (type === "ec" && curve === "prime256v1")) return key;
  const found =
    type === "ec" ? `an EC key on curve ${curve ?? "unknown"}` : `a key of type ${type ?? "secret"}`;
  throw keyError(`${where} is ${found}; event signing accepts only ${ACCEPTED}`);
}

function keyError(message: string, cause?: unknown): PalisadeError {
  return new PalisadeError(
    EVENT_KEY_INVALID,
    `Cannot load event-signing keys: ${message}`,
    cause === undefined ? {} : { cause },
  );
}
