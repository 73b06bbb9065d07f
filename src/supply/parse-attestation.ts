import { PalisadeError } from "../errors.ts";
import { type DsseEnvelope, type FunctionStatement, PREDICATE_TYPE, STATEMENT_TYPE } from "./dsse.ts";
import { SUPPLY_MALFORMED } from "./errors.ts";
import { BUNDLE_FILE, SBOM_FILE } from "./function-files.ts";

const BASE64 = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** What Date.prototype.toISOString writes; compared as text, such times sort as they happened. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** More signatures than any real attestation carries; bounds the work an attacker can cause. */
const MAX_SIGNATURES = 16;

/** Checks the shape of a DSSE envelope read from `path` (nothing here is trusted yet). */
export function parseEnvelope(raw: Buffer, path: string, functionName: string): DsseEnvelope {
  const fail = malformed(path, functionName);
  const json = parseJson(raw, fail);
  if (!isRecord(json)) throw fail("not a JSON object");
  const { payloadType, payload, signatures } = json;
  if (typeof payloadType !== "string") throw fail(`"payloadType" is not a string`);
  if (typeof payload !== "string" || !BASE64.test(payload)) throw fail(`"payload" is not base64`);
  if (!Array.isArray(signatures) || signatures.length === 0) throw fail(`"signatures" is empty`);
  if (signatures.length > MAX_SIGNATURES) throw fail(`more than ${MAX_SIGNATURES} signatures`);
  const sigs = signatures.map((s: unknown, i) => {
    if (!isRecord(s) || typeof s.keyid !== "string" || s.keyid === "")
      throw fail(`signature ${i} has no "keyid"`);
    if (typeof s.sig !== "string" || !BASE64.test(s.sig)) throw fail(`signature ${i} has no base64 "sig"`);
    return { keyid: s.keyid, sig: s.sig };
  });
  return { payloadType, payload, signatures: sigs };
}

/** Checks that a signed payload is the in-toto statement signFunction writes. */
export function parseStatement(payload: Buffer, path: string, functionName: string): FunctionStatement {
  const fail = malformed(path, functionName);
  const json = parseJson(payload, fail);
  if (!isRecord(json)) throw fail("the payload is not a JSON object");
  if (json._type !== STATEMENT_TYPE) throw fail(`"_type" is not "${STATEMENT_TYPE}"`);
  if (json.predicateType !== PREDICATE_TYPE) throw fail(`"predicateType" is not "${PREDICATE_TYPE}"`);
  const { subject, predicate } = json;
  if (!isRecord(predicate) || typeof predicate.function !== "string")
    throw fail(`"predicate" names no function`);
  const { builtAt } = predicate;
  if (builtAt !== undefined && (typeof builtAt !== "string" || !ISO_TIME.test(builtAt)))
    throw fail(`"predicate.builtAt" is not an ISO 8601 UTC time`);
  if (!Array.isArray(subject) || subject.length !== 2)
    throw fail(`"subject" is not [${BUNDLE_FILE}, ${SBOM_FILE}]`);
  const digestOf = (name: string): string => {
    const found = subject.filter((s: unknown) => isRecord(s) && s.name === name);
    const digest = found.length === 1 && isRecord(found[0]?.digest) ? found[0].digest.sha256 : undefined;
    if (typeof digest !== "string" || !SHA256_HEX.test(digest)) throw fail(`no sha256 subject "${name}"`);
    return digest;
  };
  return {
    _type: STATEMENT_TYPE,
    subject: [
      { name: BUNDLE_FILE, digest: { sha256: digestOf(BUNDLE_FILE) } },
      { name: SBOM_FILE, digest: { sha256: digestOf(SBOM_FILE) } },
    ],
    predicateType: PREDICATE_TYPE,
    predicate: {
      function: predicate.function,
      bundle: BUNDLE_FILE,
      sbom: SBOM_FILE,
      sbomFormat: "CycloneDX 1.5",
      ...(builtAt === undefined ? {} : { builtAt }),
    },
  };
}

function malformed(path: string, functionName: string): (why: string) => PalisadeError {
  return (why) =>
    new PalisadeError(
      SUPPLY_MALFORMED,
      `Attestation of function "${functionName}" is malformed ("${path}": ${why}); rebuild with palisade build`,
    );
}

function parseJson(raw: Buffer, fail: (why: string) => PalisadeError): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw fail("not UTF-8 JSON");
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
