import { type KeyObject, verify } from "node:crypto";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { type DsseEnvelope, PAYLOAD_TYPE, preAuthEncoding } from "./dsse.ts";
import {
  SUPPLY_BAD_SIGNATURE,
  SUPPLY_DIGEST_MISMATCH,
  SUPPLY_MALFORMED,
  SUPPLY_UNSIGNED,
  SUPPLY_UNTRUSTED_KEY,
  SUPPLY_WRONG_FUNCTION,
} from "./errors.ts";
import {
  ATTESTATION_FILE,
  BUNDLE_FILE,
  functionNameOf,
  readBuiltFiles,
  readRegularFile,
  SBOM_FILE,
  sha256Hex,
} from "./function-files.ts";
import { parseEnvelope, parseStatement } from "./parse-attestation.ts";
import { keyIdOf, parsePublicKey } from "./signing-keys.ts";

/**
 * Verifies a built function directory before it may run: the attestation is signed by one of the
 * trusted Ed25519 keys, was made for this function (the directory's name), and its digests are those
 * of the bundle and SBOM on disk. Refuses symbolic links. Returns the bytes it verified: run those
 * (stageBundle), not the file, which may have changed since.
 */
export function verifyFunction(dir: string, trustedPublicKeysPem: readonly string[]): VerifiedBundle {
  const name = functionNameOf(dir);
  const { bundle, sbom } = readBuiltFiles(dir, name);
  const path = join(dir, ATTESTATION_FILE);
  const raw = readRegularFile(path, name);
  if (raw === undefined) {
    throw new PalisadeError(
      SUPPLY_UNSIGNED,
      `Function "${name}" is not signed ("${path}" does not exist); build and sign it with palisade build`,
    );
  }
  const envelope = parseEnvelope(raw, path, name);
  const payload = Buffer.from(envelope.payload, "base64");
  const keyid = checkSignature(envelope, payload, trustedKeys(trustedPublicKeysPem), path, name);

  // Only signed content is interpreted from here on.
  if (envelope.payloadType !== PAYLOAD_TYPE) {
    throw new PalisadeError(
      SUPPLY_MALFORMED,
      `Attestation of function "${name}" is malformed ("${path}": payloadType "${envelope.payloadType}" is not "${PAYLOAD_TYPE}"); rebuild with palisade build`,
    );
  }
  const statement = parseStatement(payload, path, name);
  if (statement.predicate.function !== name) {
    throw new PalisadeError(
      SUPPLY_WRONG_FUNCTION,
      `Bundle in "${dir}" was signed for function "${statement.predicate.function}", not "${name}"; rebuild with palisade build`,
    );
  }
  const [signedBundle, signedSbom] = statement.subject;
  checkDigest("Bundle", join(dir, BUNDLE_FILE), sha256Hex(bundle), signedBundle?.digest.sha256, name);
  checkDigest("SBOM", join(dir, SBOM_FILE), sha256Hex(sbom), signedSbom?.digest.sha256, name);
  const { builtAt } = statement.predicate;
  return {
    bundlePath: join(dir, BUNDLE_FILE),
    keyid,
    bundle,
    sha256: sha256Hex(bundle),
    ...(builtAt === undefined ? {} : { builtAt }),
  };
}

/** A bundle whose signature verified, with the very bytes that were checked. */
export interface VerifiedBundle {
  /** Where it was read from (it may have changed since). */
  readonly bundlePath: string;
  /** Id of the trusted key whose signature verified. */
  readonly keyid: string;
  /** The verified bytes. */
  readonly bundle: Buffer;
  /** SHA-256 (hex) of `bundle`, as signed. */
  readonly sha256: string;
  /** When it was signed, if its attestation says (older attestations do not). */
  readonly builtAt?: string;
}

function trustedKeys(pems: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  pems.forEach((pem, i) => {
    const key = parsePublicKey(pem, `#${i + 1} of the trusted keys`);
    keys.set(keyIdOf(key), key);
  });
  return keys;
}

/** Returns the id of a trusted key whose signature over the DSSE PAE verifies. */
function checkSignature(
  envelope: DsseEnvelope,
  payload: Buffer,
  trusted: Map<string, KeyObject>,
  path: string,
  name: string,
): string {
  const signed = preAuthEncoding(envelope.payloadType, payload);
  const candidates = envelope.signatures.filter((s) => trusted.has(s.keyid));
  for (const { keyid, sig } of candidates) {
    const key = trusted.get(keyid);
    if (key !== undefined && verifies(signed, key, Buffer.from(sig, "base64"))) return keyid;
  }
  if (candidates.length > 0) {
    throw new PalisadeError(
      SUPPLY_BAD_SIGNATURE,
      `Signature of function "${name}" does not verify with trusted key ${candidates[0]?.keyid} ("${path}" was modified after signing); rebuild with palisade build`,
    );
  }
  const ids = envelope.signatures.map((s) => s.keyid).join(", ");
  const fix =
    trusted.size === 0
      ? "the app trusts no keys; add the signer's public key as keys/<name>.pub"
      : "sign it with the app's key (palisade build), or add the signer's public key as keys/<name>.pub";
  throw new PalisadeError(
    SUPPLY_UNTRUSTED_KEY,
    `Function "${name}" is signed by untrusted key ${ids} ("${path}"); ${fix}`,
  );
}

function verifies(data: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return verify(null, data, key, sig);
  } catch {
    return false;
  }
}

function checkDigest(
  what: string,
  path: string,
  actual: string,
  signed: string | undefined,
  name: string,
): void {
  if (actual === signed) return;
  throw new PalisadeError(
    SUPPLY_DIGEST_MISMATCH,
    `${what} of function "${name}" was modified after signing (${path}: sha256 ${actual.slice(0, 12)}… ≠ signed ${String(signed).slice(0, 12)}…); rebuild with palisade build`,
    { details: { file: path, sha256: actual, signed } },
  );
}
