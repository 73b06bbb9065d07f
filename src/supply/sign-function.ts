import { sign } from "node:crypto";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import {
  type DsseEnvelope,
  type FunctionStatement,
  PAYLOAD_TYPE,
  PREDICATE_TYPE,
  preAuthEncoding,
  STATEMENT_TYPE,
} from "./dsse.ts";
import { SUPPLY_DIGEST_MISMATCH, SUPPLY_MALFORMED } from "./errors.ts";
import {
  ATTESTATION_FILE,
  BUNDLE_FILE,
  functionNameOf,
  readBuiltFiles,
  SBOM_FILE,
  sha256Hex,
  writeFileAtomic,
} from "./function-files.ts";
import { keyIdOf, parsePrivateKey } from "./signing-keys.ts";

/**
 * Signs a built function directory: writes `attestation.dsse.json`, a DSSE envelope whose payload is
 * an in-toto statement with the SHA-256 of the bundle and of the SBOM, signed with Ed25519. Refuses a
 * bundle its SBOM does not describe (changed between build and sign). The statement carries `now` as
 * `builtAt`, which orders builds (see checkBundleHistory).
 */
export function signFunction(dir: string, privateKeyPem: string, now: Date = new Date()): void {
  const name = functionNameOf(dir);
  const key = parsePrivateKey(privateKeyPem, `given to sign function "${name}"`);
  const { bundle, sbom } = readBuiltFiles(dir, name);
  const bundleSha256 = sha256Hex(bundle);
  checkSbomDescribes(sbom, bundleSha256, dir, name);

  const statement: FunctionStatement = {
    _type: STATEMENT_TYPE,
    subject: [
      { name: BUNDLE_FILE, digest: { sha256: bundleSha256 } },
      { name: SBOM_FILE, digest: { sha256: sha256Hex(sbom) } },
    ],
    predicateType: PREDICATE_TYPE,
    predicate: {
      function: name,
      bundle: BUNDLE_FILE,
      sbom: SBOM_FILE,
      sbomFormat: "CycloneDX 1.5",
      builtAt: now.toISOString(),
    },
  };
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const sig = sign(null, preAuthEncoding(PAYLOAD_TYPE, payload), key);
  const envelope: DsseEnvelope = {
    payloadType: PAYLOAD_TYPE,
    payload: payload.toString("base64"),
    signatures: [{ keyid: keyIdOf(key), sig: sig.toString("base64") }],
  };
  writeFileAtomic(join(dir, ATTESTATION_FILE), `${JSON.stringify(envelope, null, 2)}\n`);
}

function checkSbomDescribes(sbom: Buffer, bundleSha256: string, dir: string, name: string): void {
  const sbomPath = join(dir, SBOM_FILE);
  let described: unknown;
  try {
    const component = (JSON.parse(sbom.toString("utf8")) as { metadata?: { component?: unknown } }).metadata
      ?.component as { name?: unknown; hashes?: { alg?: unknown; content?: unknown }[] } | undefined;
    if (component?.name !== name) throw new Error(`it does not describe function "${name}"`);
    described = component.hashes?.find((h) => h.alg === "SHA-256")?.content;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PalisadeError(
      SUPPLY_MALFORMED,
      `Cannot sign function "${name}": "${sbomPath}" is not its SBOM (${reason}); rebuild with palisade build`,
    );
  }
  if (described !== bundleSha256) {
    throw new PalisadeError(
      SUPPLY_DIGEST_MISMATCH,
      `Cannot sign function "${name}": its bundle was modified after it was built ("${join(dir, BUNDLE_FILE)}": sha256 ${bundleSha256} ≠ ${String(described)} in its SBOM); rebuild with palisade build`,
    );
  }
}
