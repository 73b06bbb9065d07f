/**
 * Signing and verifying CloudEvents per the CloudEvents verifiability extension (`dssematerial`,
 * DSSE v1.0.2, payload type `https://cloudevents.io/verifiability/dsse/v0.1`): the digest of digests
 * over the eight core context attributes and the data bytes, an optional digest over the extension
 * attributes named in `signedextattrs`, signed as a DSSE envelope with Ed25519 or ECDSA P-256
 * (SHA-256, raw r‖s).
 *
 * Threat model: a proxy, queue or gateway node between producer and platform may change, drop or
 * inject attributes, data or material. A verified result proves the core attributes, the data bytes
 * and the listed extension attributes are as a holder of the key signed them; unsigned extension
 * attributes stay untrusted. Not covered (per the extension): replay (dedupe on source+id does that),
 * stripping of `dssematerial` (the principal's `requireSigned` policy does that), absent versus
 * empty attributes, which hash alike, and a producer whose key is stolen.
 *
 * Callers pass attributes as on the wire. An extension whose CloudEvents type is Binary must be
 * passed as bytes: its base64 string form would hash differently. Verification never throws on
 * anything from the wire: every failure is a discard result naming one of the extension's
 * "MUST be discarded" cases, so a gateway answers 4xx.
 */
import { hash, type KeyObject, sign, verify } from "node:crypto";
import { PalisadeError } from "../errors.ts";
import { normalizeTime } from "./normalize-time.ts";
import { decodeBase64 } from "./strict-base64.ts";

export const VERIFIABILITY_PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1";
/** signEvent was given signed extension attributes, values or a time the extension forbids. */
export const EVENT_SIGNING_REFUSED = "PAL_EVENT_SIGNING_REFUSED";
/** signEvent was given a key that is not an Ed25519 or ECDSA P-256 private key. */
export const EVENT_SIGNING_KEY = "PAL_EVENT_SIGNING_KEY";
/** Most signatures with an acceptable key id tried per event: bounds the CPU one request can cost. */
export const MAX_SIGNATURE_ATTEMPTS = 4;

export type AttributeValue = string | number | boolean | Uint8Array;

export interface VerifiableEvent {
  /** Context and extension attributes as on the wire; never `data`, `data_base64` or `dssematerial`. */
  attributes: Readonly<Record<string, AttributeValue | undefined>>;
  /** The exact data bytes (empty when the event has no data). */
  data: Uint8Array;
  /** Other byte strings that stand for the same data; the core digest may match any of them. */
  dataAlternatives?: readonly Uint8Array[];
}

export interface EventSigningKey {
  keyid: string;
  privateKey: KeyObject;
}

export type DiscardReason =
  | "unsigned"
  | "material-encoding"
  | "material-utf8"
  | "envelope"
  | "payload-type"
  | "payload"
  | "digest-length"
  | "signedextattrs"
  | "ext-pairing"
  | "unknown-key"
  | "signature"
  | "time"
  | "core-type"
  | "core-mismatch"
  | "ext-mismatch"
  | "ext-type";

export type VerifyResult =
  | { ok: true; keyid: string; signedextattrs: readonly string[] }
  | { ok: false; reason: DiscardReason; message: string };

type Discarded = Extract<VerifyResult, { ok: false }>;

/** Core context attributes in digest order (Signing Protocol step 3). */
export const CORE_ATTRIBUTES = [
  "id",
  "source",
  "specversion",
  "type",
  "datacontenttype",
  "dataschema",
  "subject",
  "time",
] as const;
const CORE_NAMES: ReadonlySet<string> = new Set(CORE_ATTRIBUTES);
const DIGEST = 32;
const EMPTY_DIGEST = hash("sha256", new Uint8Array(0), "buffer");
const TRUE_DIGEST = hash("sha256", "true", "buffer");
const FALSE_DIGEST = hash("sha256", "false", "buffer");
const PAE_PREFIX = `DSSEv1 ${VERIFIABILITY_PAYLOAD_TYPE.length} ${VERIFIABILITY_PAYLOAD_TYPE} `;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Signs an event: the `dssematerial` value (standard base64 of the UTF-8 DSSE envelope), one
 * signature per key. Refuses names, values and keys the extension forbids rather than drop them.
 */
export function signEvent(
  event: VerifiableEvent,
  keys: EventSigningKey | readonly EventSigningKey[],
  signedextattrs: readonly string[] = [],
): string {
  const keyList: readonly EventSigningKey[] = "keyid" in keys ? [keys] : keys;
  if (keyList.length === 0) throw refused("no signing key was given; pass at least one");
  const namesProblem = signedExtAttrsProblem(signedextattrs, true);
  if (namesProblem !== undefined) throw refused(namesProblem);
  const core = coreAttributeDigests(event.attributes);
  if (!Buffer.isBuffer(core)) throw refused(core.message);
  const material: { core: string; ext?: string; signedextattrs?: readonly string[] } = {
    core: coreDigest(core, event.data).toString("base64"),
  };
  if (signedextattrs.length > 0) {
    const ext = extDigest(event.attributes, signedextattrs);
    if (typeof ext === "string") throw refused(ext);
    material.ext = ext.toString("base64");
    material.signedextattrs = signedextattrs;
  }
  const body = Buffer.from(JSON.stringify(material), "utf8");
  const pae = preAuthEncoding(body);
  const signatures = keyList.map(({ keyid, privateKey }) => {
    if (typeof keyid !== "string" || keyid === "")
      throw keyError("a signing key has no key id; give each key one");
    if (privateKey.type !== "private" || !supported(privateKey)) {
      throw keyError(
        `signing key "${keyid}" is ${describeKey(privateKey)}; use an Ed25519 or ECDSA P-256 private key`,
      );
    }
    return { keyid, sig: createSignature(privateKey, pae).toString("base64") };
  });
  const envelope = { payloadType: VERIFIABILITY_PAYLOAD_TYPE, payload: body.toString("base64"), signatures };
  return Buffer.from(JSON.stringify(envelope), "utf8").toString("base64");
}

/**
 * Verifies an event per the extension's Verification Protocol, in its order: material, envelope,
 * payload, signature by an acceptable key id, core digest, then the signed extension digest.
 */
export function verifyEvent(
  event: VerifiableEvent,
  dssematerial: string | Uint8Array | undefined,
  keys: ReadonlyMap<string, KeyObject>,
): VerifyResult {
  const prepared = prepare(dssematerial, keys);
  if ("ok" in prepared) return prepared;
  const found = prepared.candidates.find((c) => checkSignature(c.key, prepared.pae, c.signature));
  if (found === undefined) return prepared.failure;
  return compareDigests(event, prepared.material, found.keyid);
}

/** One signature to check: by an acceptable key id, decoded. */
interface Candidate {
  keyid: string;
  key: KeyObject;
  signature: Buffer;
}

/** What is left after the material's steps of the protocol: the signatures to check, in order. */
interface Prepared {
  material: Material;
  pae: Buffer;
  candidates: readonly Candidate[];
  /** The discard when none of them verifies. */
  failure: VerifyResult;
}

// Steps 2–6 and the key-id filter of step 7: everything but the signature check itself.
function prepare(
  dssematerial: string | Uint8Array | undefined,
  keys: ReadonlyMap<string, KeyObject>,
): Prepared | Discarded {
  if (dssematerial === undefined || dssematerial.length === 0) {
    return discard("unsigned", 'the event has no "dssematerial"; sign it with one of the principal\'s keys');
  }
  const bytes = typeof dssematerial === "string" ? decodeBase64(dssematerial, false) : dssematerial;
  if (bytes === undefined) {
    return discard(
      "material-encoding",
      '"dssematerial" is not standard base64 with correct padding; send the envelope\'s UTF-8 bytes base64-encoded (RFC 4648 §4)',
    );
  }
  const text = decodeUtf8(bytes);
  if (text === undefined)
    return discard("material-utf8", '"dssematerial" is not UTF-8; send the DSSE envelope as UTF-8 JSON');
  const envelope = parseObject(text);
  if (
    envelope === undefined ||
    typeof envelope.payloadType !== "string" ||
    typeof envelope.payload !== "string"
  ) {
    return discard(
      "envelope",
      '"dssematerial" is not a DSSE JSON envelope with "payloadType", "payload" and "signatures"; send one per DSSE v1.0.2',
    );
  }
  const signatures = envelope.signatures;
  if (!Array.isArray(signatures) || signatures.length === 0 || !signatures.every(isSignatureEntry)) {
    return discard(
      "envelope",
      'the DSSE envelope needs a non-empty "signatures" array of { keyid, sig } objects; sign the event again',
    );
  }
  if (envelope.payloadType !== VERIFIABILITY_PAYLOAD_TYPE) {
    return discard(
      "payload-type",
      `the DSSE payload type is "${clip(envelope.payloadType)}"; sign with payload type "${VERIFIABILITY_PAYLOAD_TYPE}"`,
    );
  }
  const body = decodeBase64(envelope.payload, true);
  const payload = body === undefined ? undefined : decodeUtf8(body);
  const material = payload === undefined ? undefined : parseObject(payload);
  if (body === undefined || material === undefined) {
    return discard(
      "payload",
      "the DSSE payload is not base64 of a JSON object; sign with a signer that follows the verifiability extension",
    );
  }
  const checked = checkMaterial(material);
  if ("reason" in checked) return discard(checked.reason, checked.message);
  return {
    material: checked,
    pae: preAuthEncoding(body),
    ...candidatesOf(signatures as SignatureEntry[], keys),
  };
}

interface SignatureEntry {
  keyid?: unknown;
  sig: string;
}

interface Material {
  core: Buffer;
  ext: Buffer | undefined;
  signedextattrs: readonly string[];
}

function checkMaterial(m: Record<string, unknown>): Material | { reason: DiscardReason; message: string } {
  const core = typeof m.core === "string" ? decodeBase64(m.core, true) : undefined;
  if (core === undefined)
    return {
      reason: "payload",
      message: 'the verification material has no base64 "core" digest; sign the event again',
    };
  if (core.length !== DIGEST) {
    return {
      reason: "digest-length",
      message: `the "core" digest is ${core.length} bytes, not 32; sign with SHA-256`,
    };
  }
  let ext: Buffer | undefined;
  if (m.ext !== undefined) {
    ext = typeof m.ext === "string" ? decodeBase64(m.ext, true) : undefined;
    if (ext === undefined)
      return { reason: "payload", message: 'the "ext" digest is not base64; sign the event again' };
    if (ext.length !== DIGEST) {
      return {
        reason: "digest-length",
        message: `the "ext" digest is ${ext.length} bytes, not 32; sign with SHA-256`,
      };
    }
  }
  const names = m.signedextattrs;
  if (names !== undefined) {
    const problem = Array.isArray(names)
      ? signedExtAttrsProblem(names, false)
      : '"signedextattrs" is not an array of attribute names';
    if (problem !== undefined) {
      return { reason: "signedextattrs", message: `${problem}; the producer must sign with a valid list` };
    }
  }
  if ((ext === undefined) !== (names === undefined)) {
    const [has, lacks] = ext === undefined ? ["signedextattrs", "ext"] : ["ext", "signedextattrs"];
    return {
      reason: "ext-pairing",
      message: `the verification material has "${has}" without "${lacks}"; sign with both or neither`,
    };
  }
  return { core, ext, signedextattrs: (names as string[] | undefined) ?? [] };
}

/**
 * DSSE verification (protocol v1.0.2): the signatures by an acceptable key id, at most
 * MAX_SIGNATURE_ATTEMPTS of them (any one valid suffices), and the discard if none verifies.
 */
function candidatesOf(
  signatures: readonly SignatureEntry[],
  keys: ReadonlyMap<string, KeyObject>,
): { candidates: Candidate[]; failure: VerifyResult } {
  const candidates: Candidate[] = [];
  let lastKeyid = "";
  let attempts = 0;
  for (const { keyid, sig } of signatures) {
    const key = typeof keyid === "string" ? keys.get(keyid) : undefined;
    if (key === undefined || attempts === MAX_SIGNATURE_ATTEMPTS) continue;
    attempts++;
    lastKeyid = keyid as string;
    const signature = decodeBase64(sig, true);
    if (signature !== undefined) candidates.push({ keyid: lastKeyid, key, signature });
  }
  if (attempts === 0) {
    const ids = signatures
      .slice(0, MAX_SIGNATURE_ATTEMPTS)
      .map((s) => (typeof s.keyid === "string" ? `"${clip(s.keyid)}"` : "none"))
      .join(", ");
    return {
      candidates,
      failure: discard(
        "unknown-key",
        `no signature is by a key this principal accepts (key ids: ${ids}); sign with a registered key id`,
      ),
    };
  }
  return {
    candidates,
    failure: discard(
      "signature",
      `the signature by key "${clip(lastKeyid)}" does not verify; the material was changed or signed with another key`,
    ),
  };
}

function compareDigests(event: VerifiableEvent, material: Material, keyid: string): VerifyResult {
  const core = coreAttributeDigests(event.attributes);
  if (!Buffer.isBuffer(core)) return discard(core.reason, core.message);
  if (!coreMatches(core, event, material.core)) {
    return discard(
      "core-mismatch",
      "the data or a core attribute differs from what was signed; send the event exactly as signed",
    );
  }
  const names = material.signedextattrs;
  if (material.ext !== undefined) {
    const ext = extDigest(event.attributes, names);
    if (typeof ext === "string") return discard("ext-type", ext);
    if (!ext.equals(material.ext)) {
      return discard(
        "ext-mismatch",
        `a signed extension attribute (${names.join(", ")}) differs from what was signed; send it unchanged`,
      );
    }
  }
  return { ok: true, keyid, signedextattrs: names };
}

/** The eight core attribute digests, concatenated, with room for the data digest; or a problem. */
function coreAttributeDigests(
  attributes: VerifiableEvent["attributes"],
): Buffer | { reason: "time" | "core-type"; message: string } {
  const buf = Buffer.allocUnsafe(DIGEST * (CORE_ATTRIBUTES.length + 1));
  for (let i = 0; i < CORE_ATTRIBUTES.length; i++) {
    const name = CORE_ATTRIBUTES[i] as string;
    let value: unknown = attributes[name];
    if (name === "time" && value !== undefined && value !== null) {
      value = typeof value === "string" ? normalizeTime(value) : undefined;
      if (value === undefined) {
        const message = `"time" ${describe(attributes[name])} is not an RFC 3339 timestamp; send e.g. "2026-05-13T09:49:12Z"`;
        return { reason: "time", message };
      }
    }
    const digest = valueDigest(value);
    if (digest === undefined) {
      return {
        reason: "core-type",
        message: `core attribute "${name}" holds ${describe(value)}; send it as a string`,
      };
    }
    digest.copy(buf, i * DIGEST);
  }
  return buf;
}

function coreDigest(attributeDigests: Buffer, data: Uint8Array): Buffer {
  hash("sha256", data, "buffer").copy(attributeDigests, DIGEST * CORE_ATTRIBUTES.length);
  return hash("sha256", attributeDigests, "buffer");
}

function coreMatches(attributeDigests: Buffer, event: VerifiableEvent, expected: Buffer): boolean {
  if (coreDigest(attributeDigests, event.data).equals(expected)) return true;
  for (const alternative of event.dataAlternatives ?? []) {
    if (coreDigest(attributeDigests, alternative).equals(expected)) return true;
  }
  return false;
}

/** EXT_DIGEST over the named attributes in list order (Signing Protocol step 5); or a problem. */
function extDigest(attributes: VerifiableEvent["attributes"], names: readonly string[]): Buffer | string {
  const buf = Buffer.allocUnsafe(DIGEST * names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const digest = Object.hasOwn(attributes, name) ? valueDigest(attributes[name]) : EMPTY_DIGEST;
    if (digest === undefined) {
      return `signed extension attribute "${name}" holds ${describe(attributes[name])}, which has no CloudEvents canonical form; use a string, boolean, integer or binary value`;
    }
    digest.copy(buf, i * DIGEST);
  }
  return hash("sha256", buf, "buffer");
}

// Digests of short attribute values seen lately: one producer's specversion, source, type and
// content type repeat on every event. Bounded; cleared when full. (SHA-256 of a string is a function
// of the string, so a hit is exactly what hashing again would give.)
const recentDigests = new Map<string, Buffer>();
const RECENT_DIGESTS = 4096;
const CACHED_LENGTH = 256;

function stringDigest(value: string): Buffer {
  if (value.length > CACHED_LENGTH) return hash("sha256", value, "buffer");
  const known = recentDigests.get(value);
  if (known !== undefined) return known;
  if (recentDigests.size >= RECENT_DIGESTS) recentDigests.clear();
  const digest = hash("sha256", value, "buffer");
  recentDigests.set(value, digest);
  return digest;
}

/** SHA-256 of a value's canonical bytes (Canonical Value Serialization); absent → SHA-256 of nothing. */
function valueDigest(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return EMPTY_DIGEST;
  if (typeof value === "string") return stringDigest(value);
  if (typeof value === "boolean") return value ? TRUE_DIGEST : FALSE_DIGEST;
  // Integer: decimal, no fraction or exponent (RFC 7159 §6); String() gives that for safe integers.
  if (typeof value === "number")
    return Number.isSafeInteger(value) ? hash("sha256", String(value), "buffer") : undefined;
  if (value instanceof Uint8Array) return hash("sha256", value, "buffer");
  return undefined;
}

function signedExtAttrsProblem(names: readonly unknown[], signing: boolean): string | undefined {
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (typeof name !== "string") return `"signedextattrs" holds ${describe(name)}, not an attribute name`;
    if (CORE_NAMES.has(name))
      return `"signedextattrs" names core attribute "${name}", which the core digest covers`;
    if (name === "dssematerial") return '"signedextattrs" names "dssematerial", which cannot sign itself';
    if (names.indexOf(name) !== i) return `"signedextattrs" names "${clip(name)}" twice`;
    if (signing && !/^[a-z0-9]{1,64}$/.test(name)) {
      return `"signedextattrs" names "${clip(name)}", not a CloudEvents attribute name (lower-case letters and digits)`;
    }
  }
  return undefined;
}

/** DSSE v1 pre-authentication encoding for this payload type, in one allocation. */
function preAuthEncoding(body: Uint8Array): Buffer {
  const head = `${PAE_PREFIX}${body.length} `;
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, "latin1");
  out.set(body, head.length);
  return out;
}

function supported(key: KeyObject): boolean {
  if (key.asymmetricKeyType === "ed25519") return true;
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
}

function createSignature(key: KeyObject, pae: Buffer): Buffer {
  if (key.asymmetricKeyType === "ed25519") return sign(null, pae, key);
  return sign("sha256", pae, { key, dsaEncoding: "ieee-p1363" });
}

/** Whether `signature` by `key` (Ed25519, or P-256 with raw r‖s) verifies over `pae`; never throws. */
function checkSignature(key: KeyObject, pae: Buffer, signature: Buffer): boolean {
  try {
    if (key.asymmetricKeyType === "ed25519") return verify(null, pae, key, signature);
    if (!supported(key)) return false;
    return verify("sha256", pae, { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function isSignatureEntry(entry: unknown): entry is SignatureEntry {
  return typeof entry === "object" && entry !== null && typeof (entry as SignatureEntry).sig === "string";
}

function discard(reason: DiscardReason, message: string): Discarded {
  return { ok: false, reason, message: `Cannot verify event: ${message}` };
}

function refused(message: string): PalisadeError {
  return new PalisadeError(EVENT_SIGNING_REFUSED, `Cannot sign event: ${message}`, { status: 400 });
}

function keyError(message: string): PalisadeError {
  return new PalisadeError(EVENT_SIGNING_KEY, `Cannot sign event: ${message}`, { status: 400 });
}

function describeKey(key: KeyObject): string {
  if (key.type !== "private") return `a ${key.type} key`;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `an ${key.asymmetricKeyType ?? "unknown"}${curve === undefined ? "" : ` (${curve})`} key`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `"${clip(value)}"`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `a value of type ${typeof value}`;
}

/** Wire text in messages, bounded so a hostile value cannot fill logs. */
function clip(text: string): string {
  return text.length > 64
    ? `${JSON.stringify(text.slice(0, 64)).slice(1, -1)}…`
    : JSON.stringify(text).slice(1, -1);
}
