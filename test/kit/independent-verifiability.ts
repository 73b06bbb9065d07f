/**
 * A second, independent implementation of the CloudEvents verifiability extension, written from the
 * extension's text alone (node:crypto only, nothing from src/), so interop tests do not check the
 * project's signer against itself. It is deliberately plain: createHash, Date for time, regular
 * expressions for base64, the DSSE envelope fields in the order the DSSE envelope document shows.
 */
import { createHash, type KeyObject, sign, verify } from "node:crypto";

const PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1";
const CORE_ORDER = [
  "id",
  "source",
  "specversion",
  "type",
  "datacontenttype",
  "dataschema",
  "subject",
  "time",
];
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

export type IndependentResult = { ok: true; keyid: string } | { ok: false; why: string };

function sha256(bytes: Uint8Array | string): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** "Canonical Value Serialization": the bytes of one attribute value, or an Error for other types. */
function canonical(value: unknown): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (typeof value === "boolean") return new TextEncoder().encode(value ? "true" : "false");
  if (typeof value === "number") {
    if (!Number.isInteger(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER)
      throw new Error("not an integer");
    return new TextEncoder().encode(value.toFixed(0));
  }
  if (typeof value === "string") return new TextEncoder().encode(value);
  throw new Error(`unsupported ${typeof value}`);
}

/** RFC3339(UTC(t)) with second precision; no zone means UTC. */
function zulu(time: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$/.exec(time);
  if (m === null) throw new Error(`bad time ${time}`);
  const zone = m[4] === undefined || m[4] === "z" ? "Z" : m[4];
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(ms)) throw new Error(`bad time ${time}`);
  const iso = new Date(ms).toISOString();
  // Date.parse rolls invalid days (Feb 30) over; refuse those by comparing the date read back.
  if (zone === "Z" && iso.slice(0, 10) !== m[1]) throw new Error(`bad time ${time}`);
  return `${iso.slice(0, 19)}Z`;
}

function coreDigest(attributes: Record<string, unknown>, data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  for (const name of CORE_ORDER) {
    const value = attributes[name];
    const text = name === "time" && typeof value === "string" ? zulu(value) : value;
    parts.push(sha256(canonical(text)));
  }
  parts.push(sha256(data));
  return sha256(Buffer.concat(parts));
}

function extDigest(attributes: Record<string, unknown>, names: string[]): Buffer {
  return sha256(
    Buffer.concat(
      names.map((n) => sha256(canonical(Object.hasOwn(attributes, n) ? attributes[n] : undefined))),
    ),
  );
}

function pae(type: string, body: Buffer): Buffer {
  const t = Buffer.from(type);
  return Buffer.concat([
    Buffer.from("DSSEv1"),
    Buffer.from(` ${t.length} `),
    t,
    Buffer.from(` ${body.length} `),
    body,
  ]);
}

function signBytes(privateKey: KeyObject, message: Buffer): Buffer {
  return privateKey.asymmetricKeyType === "ed25519"
    ? sign(null, message, privateKey)
    : sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
}

function verifyBytes(publicKey: KeyObject, message: Buffer, sig: Buffer): boolean {
  try {
    return publicKey.asymmetricKeyType === "ed25519"
      ? verify(null, message, publicKey, sig)
      : verify("sha256", message, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig);
  } catch {
    return false;
  }
}

function badNames(names: unknown): string | undefined {
  if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) return "signedextattrs not strings";
  if (new Set(names).size !== names.length) return "signedextattrs repeats";
  for (const n of names) if (CORE_ORDER.includes(n) || n === "dssematerial") return `signedextattrs has ${n}`;
  return undefined;
}

function b64(text: unknown): Buffer | undefined {
  if (typeof text !== "string" || !(STD_BASE64.test(text) || URL_BASE64.test(text))) return undefined;
  return Buffer.from(text, "base64");
}

/** Signs per the Signing Protocol; returns the `dssematerial` string. */
export function independentSign(
  attributes: Record<string, unknown>,
  dataBytes: Uint8Array,
  signer: { keyid: string; privateKey: KeyObject },
  signedextattrs: string[] = [],
): string {
  const problem = badNames(signedextattrs);
  if (problem !== undefined) throw new Error(problem);
  const material: Record<string, unknown> = { core: coreDigest(attributes, dataBytes).toString("base64") };
  if (signedextattrs.length > 0) {
    material.ext = extDigest(attributes, signedextattrs).toString("base64");
    material.signedextattrs = signedextattrs;
  }
  const body = Buffer.from(JSON.stringify(material));
  const sig = signBytes(signer.privateKey, pae(PAYLOAD_TYPE, body));
  const envelope = {
    payload: body.toString("base64"),
    payloadType: PAYLOAD_TYPE,
    signatures: [{ keyid: signer.keyid, sig: sig.toString("base64") }],
  };
  return Buffer.from(JSON.stringify(envelope)).toString("base64");
}

/** Verifies per the Verification Protocol, steps 2 to 9. */
export function independentVerify(
  attributes: Record<string, unknown>,
  dataBytes: Uint8Array,
  material: string | undefined,
  keys: Map<string, KeyObject>,
): IndependentResult {
  if (material === undefined || material === "") return { ok: false, why: "unsigned" };
  if (!STD_BASE64.test(material)) return { ok: false, why: "material not base64" };
  let envelope: { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  let payload: Record<string, unknown>;
  try {
    envelope = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(material, "base64")));
  } catch {
    return { ok: false, why: "envelope" };
  }
  if (envelope.payloadType !== PAYLOAD_TYPE) return { ok: false, why: "payload type" };
  const body = b64(envelope.payload);
  try {
    payload = JSON.parse(String(body));
    if (body === undefined || typeof payload !== "object" || payload === null) throw new Error("payload");
  } catch {
    return { ok: false, why: "payload" };
  }
  const core = b64(payload.core);
  if (core?.length !== 32) return { ok: false, why: "core length" };
  const ext = payload.ext === undefined ? undefined : b64(payload.ext);
  if (payload.ext !== undefined && ext?.length !== 32) return { ok: false, why: "ext length" };
  if (payload.signedextattrs !== undefined) {
    const problem = badNames(payload.signedextattrs);
    if (problem !== undefined) return { ok: false, why: problem };
  }
  if ((payload.ext === undefined) !== (payload.signedextattrs === undefined))
    return { ok: false, why: "ext pairing" };
  const signatures = Array.isArray(envelope.signatures) ? envelope.signatures : [];
  const candidates = signatures.filter((s) => keys.has(s?.keyid));
  if (candidates.length === 0) return { ok: false, why: "unknown key" };
  const message = pae(PAYLOAD_TYPE, body as Buffer);
  const good = candidates.find((s) => {
    const sig = b64(s.sig);
    return sig !== undefined && verifyBytes(keys.get(s.keyid) as KeyObject, message, sig);
  });
  if (good === undefined) return { ok: false, why: "signature" };
  try {
    if (!coreDigest(attributes, dataBytes).equals(core)) return { ok: false, why: "core mismatch" };
    if (ext !== undefined && !extDigest(attributes, payload.signedextattrs as string[]).equals(ext)) {
      return { ok: false, why: "ext mismatch" };
    }
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
  return { ok: true, keyid: good.keyid };
}
