import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { test } from "node:test";
import { independentSign, independentVerify } from "../../test/kit/independent-verifiability.ts";
import { seededRandom } from "../../test/kit/seeded-random.ts";
import { dataSpans } from "./json-data-span.ts";
import { normalizeTime } from "./normalize-time.ts";
import {
  type AttributeValue,
  EVENT_SIGNING_KEY,
  EVENT_SIGNING_REFUSED,
  MAX_SIGNATURE_ATTEMPTS,
  signEvent,
  VERIFIABILITY_PAYLOAD_TYPE,
  type VerifiableEvent,
  type VerifyResult,
  verifyEvent,
} from "./verifiability.ts";

// The extension's test vectors, copied verbatim (event JSON text and dssematerial).
const VECTORS = {
  "1": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiNXh6NS9WdG94TkpWWWFZeG1MZUw2eEw5STZDYXY5UDNnb2g2cXlDWUdmUT0iLCJzaWduYXR1cmVzIjpbeyJrZXlpZCI6InRlc3RrZXkiLCJzaWciOiJ3WWo4YlJQWFlDSUxyeXdzUDdXR1VCd1RKc25aSFlYTUhpWEZtWWh1QkdhOU1ocDdYNHZFN1FBYkhXbytXZitjTURBYjN6dXlwRjVVbVdwZGtJUGppUT09In1dfQ==",
  },
  "2": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "subject": "",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiNXh6NS9WdG94TkpWWWFZeG1MZUw2eEw5STZDYXY5UDNnb2g2cXlDWUdmUT0iLCJzaWduYXR1cmVzIjpbeyJrZXlpZCI6InRlc3RrZXkiLCJzaWciOiJ3WWo4YlJQWFlDSUxyeXdzUDdXR1VCd1RKc25aSFlYTUhpWEZtWWh1QkdhOU1ocDdYNHZFN1FBYkhXbytXZitjTURBYjN6dXlwRjVVbVdwZGtJUGppUT09In1dfQ==",
  },
  "3": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "subject": "",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "time": "2020-06-18T17:24:53Z",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pZDB0RFlUaHpjVE5rZVdjdk1EQmFhVVJSZVM5aFdFRlpNWFJsY0ZGdWNrdE1ZVFo0VURCWk0wUXZVVDBpZlE9PSIsInNpZ25hdHVyZXMiOlt7ImtleWlkIjoidGVzdGtleSIsInNpZyI6IlVNcWlOWXA3U1FacTZNSGRtczRkbjJtc0hHaW5MSHZaYVVWM2doY2ovY241QmkzZDVqejBzZmhtOXBaODlDY09hK1dXdGpZNmNadmo3Yy90T1dzVFZnPT0ifV19",
  },
  "4": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "subject": "",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "time": "2020-06-18T19:24:53+02:00",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pZDB0RFlUaHpjVE5rZVdjdk1EQmFhVVJSZVM5aFdFRlpNWFJsY0ZGdWNrdE1ZVFo0VURCWk0wUXZVVDBpZlE9PSIsInNpZ25hdHVyZXMiOlt7ImtleWlkIjoidGVzdGtleSIsInNpZyI6IlVNcWlOWXA3U1FacTZNSGRtczRkbjJtc0hHaW5MSHZaYVVWM2doY2ovY241QmkzZDVqejBzZmhtOXBaODlDY09hK1dXdGpZNmNadmo3Yy90T1dzVFZnPT0ifV19",
  },
  "5": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "type" : "example.type.binary",\n "datacontenttype" : "application/octet-stream",\n "data_base64" : "8J+koQ=="\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pY1VOVFpXbGFhMU1yYUVnNVYybERiR1p4Tm5Cc1puRlpUbFo1TW10MmVGZFNabTlDY2t4RmVtOUVhejBpZlE9PSIsInNpZ25hdHVyZXMiOlt7ImtleWlkIjoidGVzdGtleSIsInNpZyI6IkYyaXAweG1nSlgzdWdIWkM2dE1ycjdBMkVxYWkwOHJhR3JUd2R5aC9PR0RJSXJGN0J5TTJ5SVRMS3FOckYzZHpaR1IybzBDczlmRUJGZEx4Uk9VeUVRPT0ifV19",
  },
  "6a": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "exta" : "value1",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pVEZSblVVdElSMmhsWnpaVU5EaDRjRWRIY2pWNlRtdGthSEF5TW10bGJscERUM0ZwWTBaMFNUUlRRVDBpTENKbGVIUWlPaUpyVlRGUU9HSkVZVVZ1ZVU1b1oyeFhlbVJVU2s1SWFEYzNhMmhPVjFOYVpXSkNWWGgxWmxaTk1uQlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlYWDA5Iiwic2lnbmF0dXJlcyI6W3sia2V5aWQiOiJ0ZXN0a2V5Iiwic2lnIjoibHBPcHNqUnZ2NFBDb05zQUlSRFl1MXphWlNBVkV2ajVSQzFGSk1yTDEyekJLa2IxTjhFSGlQc3FJMStId0V5V092SHU3eHE1aDBkN3BWWTRBdElOM3c9PSJ9XX0=",
  },
  "6b": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "exta" : "value1",\n "extb" : "value2",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pVEZSblVVdElSMmhsWnpaVU5EaDRjRWRIY2pWNlRtdGthSEF5TW10bGJscERUM0ZwWTBaMFNUUlRRVDBpTENKbGVIUWlPaUpyVlRGUU9HSkVZVVZ1ZVU1b1oyeFhlbVJVU2s1SWFEYzNhMmhPVjFOYVpXSkNWWGgxWmxaTk1uQlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlYWDA5Iiwic2lnbmF0dXJlcyI6W3sia2V5aWQiOiJ0ZXN0a2V5Iiwic2lnIjoibHBPcHNqUnZ2NFBDb05zQUlSRFl1MXphWlNBVkV2ajVSQzFGSk1yTDEyekJLa2IxTjhFSGlQc3FJMStId0V5V092SHU3eHE1aDBkN3BWWTRBdElOM3c9PSJ9XX0=",
  },
  "7": {
    event:
      '{\n "specversion" : "1.0",\n "id" : "1",\n "source" : "example/uri",\n "type" : "example.type",\n "datacontenttype" : "application/json",\n "exta" : "value1",\n "extb" : "value2",\n "data" : {\n  "hello" : "world"\n }\n}\n',
    material:
      "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pVEZSblVVdElSMmhsWnpaVU5EaDRjRWRIY2pWNlRtdGthSEF5TW10bGJscERUM0ZwWTBaMFNUUlRRVDBpTENKbGVIUWlPaUpJUWpGd1pUUXpNVVp2VVZwU2MwcGllVXhPVFhFd1VXRkJkbkZRZEcxb1pHazRaRWhIVTJoaVNrRlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlMQ0psZUhSaUlsMTkiLCJzaWduYXR1cmVzIjpbeyJrZXlpZCI6InRlc3RrZXkiLCJzaWciOiIyZzFVb0FRcHoxb1BqWlRQUlplK3l2THpaUU5FQ1pha2piWlZYaXpEd2RNbmVJSCsrLzUzdVhOMmJDU2tWSkltZndPaVl5S0JtNG12c01ISlhJVWh6Zz09In1dfQ==",
  },
} as const;
const WALKTHROUGH_PAYLOAD =
  "eyJjb3JlIjoidmpYckhOdC9rLzNyU1M5V2VqemVROHZKNHNVMXVRaCtKNTFWcXJ5N1huTT0iLCJleHQiOiJrVTFQOGJEYUVueU5oZ2xXemRUSk5IaDc3a2hOV1NaZWJCVXh1ZlZNMnBVPSIsInNpZ25lZGV4dGF0dHJzIjpbImV4dGEiXX0=";
const WALKTHROUGH_EVENT = `{
  "specversion": "1.0",
  "id": "1",
  "source": "example/uri",
  "type": "example.type",
  "datacontenttype": "application/json",
  "exta": "value1",
  "data": {"hello": "world"}
}`;

/** The vectors' key ("Cryptographic keys"): P-256, coordinates and scalar in decimal. */
const SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160n;
const SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820n;
const SPEC_D = 97358161215184420915383655311931858321456579547487070936769975997791359926199n;
const coordinate = (n: bigint) => Buffer.from(n.toString(16).padStart(64, "0"), "hex").toString("base64url");
const SPEC_JWK = { kty: "EC", crv: "P-256", x: coordinate(SPEC_X), y: coordinate(SPEC_Y) };
const specPublic = createPublicKey({ key: SPEC_JWK, format: "jwk" });
const specPrivate = createPrivateKey({ key: { ...SPEC_JWK, d: coordinate(SPEC_D) }, format: "jwk" });
const specKeys = new Map([["testkey", specPublic]]);

/** An event from a vector's JSON text: data bytes as dataSpans finds them, attributes as parsed. */
function vectorEvent(json: string): VerifiableEvent {
  const {
    data: _data,
    data_base64: _b64,
    ...attributes
  } = JSON.parse(json) as Record<string, AttributeValue>;
  const span = dataSpans(json)?.[0];
  assert.ok(span);
  const data =
    span.base64 !== undefined ? Buffer.from(span.base64, "base64") : Buffer.from(span.raw ?? "", "utf8");
  return { attributes, data };
}

function payloadOf(material: string): string {
  return (JSON.parse(Buffer.from(material, "base64").toString("utf8")) as { payload: string }).payload;
}

function ed25519(keyid: string) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { keyid, privateKey, publicKey };
}
function p256(keyid: string) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { keyid, privateKey, publicKey };
}

const k1 = ed25519("k1");
const keys = new Map<string, KeyObject>([["k1", k1.publicKey]]);
const event: VerifiableEvent = {
  attributes: {
    specversion: "1.0",
    id: "evt-1",
    source: "/orders",
    type: "order.placed",
    datacontenttype: "application/json",
    dataschema: "https://example.com/order.json",
    subject: "order-7",
    time: "2026-05-13T10:49:12.123456+01:00",
    exta: "value1",
    extb: 42,
    extc: true,
    unsigned: "anything",
  },
  data: Buffer.from('{"total": 12}'),
};

function withAttrs(patch: Record<string, AttributeValue | undefined>): VerifiableEvent {
  return { ...event, attributes: { ...event.attributes, ...patch } };
}

function assertDiscard(result: VerifyResult, reason: string): void {
  assert.equal(result.ok, false, `expected a "${reason}" discard`);
  if (!result.ok) {
    assert.equal(result.reason, reason, result.message);
    assert.match(result.message, /^Cannot verify event: .+; .+/);
  }
}

/** A well-signed envelope around any payload bytes, to reach the payload checks past DSSE. */
function envelopeAround(payload: string | object, payloadType = VERIFIABILITY_PAYLOAD_TYPE): string {
  const body = Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload));
  const type = Buffer.from(payloadType);
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${body.length} `),
    body,
  ]);
  const sig = sign(null, pae, k1.privateKey).toString("base64");
  const envelope = { payloadType, payload: body.toString("base64"), signatures: [{ keyid: "k1", sig }] };
  return Buffer.from(JSON.stringify(envelope)).toString("base64");
}

const DIGEST = Buffer.alloc(32, 7).toString("base64");

test("Case 5 (binary data) and Case 7 (two signed extension attributes) verify with the spec's P-256 key", () => {
  assert.deepEqual(verifyEvent(vectorEvent(VECTORS["5"].event), VECTORS["5"].material, specKeys), {
    ok: true,
    keyid: "testkey",
    signedextattrs: [],
  });
  assert.deepEqual(verifyEvent(vectorEvent(VECTORS["7"].event), VECTORS["7"].material, specKeys), {
    ok: true,
    keyid: "testkey",
    signedextattrs: ["exta", "extb"],
  });
});

test("the signer reproduces the spec's Case 7, Case 6a and walkthrough payloads byte for byte", () => {
  const signer = { keyid: "testkey", privateKey: specPrivate };
  const case7 = signEvent(vectorEvent(VECTORS["7"].event), signer, ["exta", "extb"]);
  assert.equal(payloadOf(case7), payloadOf(VECTORS["7"].material));
  assert.deepEqual(verifyEvent(vectorEvent(VECTORS["7"].event), case7, specKeys).ok, true);
  // Case 6a's published payload is our JSON followed by a stray "=" (see the discard test below).
  const case6 = Buffer.from(
    payloadOf(signEvent(vectorEvent(VECTORS["6a"].event), signer, ["exta"])),
    "base64",
  );
  assert.equal(`${case6.toString()}=`, Buffer.from(payloadOf(VECTORS["6a"].material), "base64").toString());
  // The walkthrough hashes ` {"hello": "world"}`: the data text with its leading space.
  const walk = signEvent(vectorEvent(WALKTHROUGH_EVENT), signer, ["exta"]);
  assert.equal(payloadOf(walk), WALKTHROUGH_PAYLOAD);
});

test("Cases 3 and 4: a valid signature over a core digest the current rules do not give, so core-mismatch", () => {
  // Both carry the same material (the extension requires it: one instant). Its signature verifies
  // with the spec key, but its "core" (wKCa8sq3…) is the bare digest Case 3 carried in the
  // extension's older draft, computed under older rules; no reading of time or data we tried
  // reproduces it. The verifier therefore gets past DSSE and discards at step 8.
  assert.equal(VECTORS["3"].material, VECTORS["4"].material);
  for (const c of ["3", "4"] as const) {
    assertDiscard(verifyEvent(vectorEvent(VECTORS[c].event), VECTORS[c].material, specKeys), "core-mismatch");
  }
  // Under the current rules the two events give one payload, and each verifies the other's material.
  const signer = { keyid: "testkey", privateKey: specPrivate };
  const m3 = signEvent(vectorEvent(VECTORS["3"].event), signer);
  const m4 = signEvent(vectorEvent(VECTORS["4"].event), signer);
  assert.equal(payloadOf(m3), payloadOf(m4));
  assert.equal(verifyEvent(vectorEvent(VECTORS["4"].event), m3, specKeys).ok, true);
});

test("Cases 1, 2 (bare-digest payload of an older draft) and 6a, 6b (stray '=' after the JSON) are discarded", () => {
  // Their signatures are not the issue: the payload is not a JSON object, so step 6 discards.
  for (const c of ["1", "2", "6a", "6b"] as const) {
    assertDiscard(verifyEvent(vectorEvent(VECTORS[c].event), VECTORS[c].material, specKeys), "payload");
  }
});

test("a signed event verifies with its key id and lists the signed extension attributes", () => {
  const material = signEvent(event, k1, ["exta", "extb", "extc"]);
  assert.deepEqual(verifyEvent(event, material, keys), {
    ok: true,
    keyid: "k1",
    signedextattrs: ["exta", "extb", "extc"],
  });
  const coreOnly = signEvent(event, k1);
  assert.deepEqual(verifyEvent(event, coreOnly, keys), { ok: true, keyid: "k1", signedextattrs: [] });
  assert.equal(verifyEvent(event, Buffer.from(material, "base64"), keys).ok, true, "binary material");
});

test("time in another zone, with a fraction, or without a zone normalises to the same instant", () => {
  const material = signEvent(withAttrs({ time: "2026-05-13T09:49:12Z" }), k1);
  for (const time of [
    "2026-05-13T10:49:12.123456+01:00",
    "2026-05-13T09:49:12.999Z",
    "2026-05-13T09:49:12",
    "2026-05-13t04:19:12-05:30",
    "2026-05-13T09:49:12z",
    "2026-05-14T00:49:12+15:00",
  ]) {
    assert.equal(verifyEvent(withAttrs({ time }), material, keys).ok, true, time);
  }
  assertDiscard(verifyEvent(withAttrs({ time: "2026-05-13T09:49:13Z" }), material, keys), "core-mismatch");
  for (const time of ["2026-02-29T00:00:00Z", "2026-05-13T24:00:00Z", "2026-05-13T09:49Z", "yesterday", ""]) {
    assertDiscard(verifyEvent(withAttrs({ time }), material, keys), "time");
    assert.throws(() => signEvent(withAttrs({ time }), k1), { code: EVENT_SIGNING_REFUSED });
  }
});

test("normalizeTime follows the extension's examples and the calendar", () => {
  assert.equal(normalizeTime("2026-05-13T10:49:12.123456+01:00"), "2026-05-13T09:49:12Z");
  assert.equal(normalizeTime("2026-05-13T09:49:12.999Z"), "2026-05-13T09:49:12Z");
  assert.equal(normalizeTime("2020-06-18T19:24:53+02:00"), "2020-06-18T17:24:53Z");
  assert.equal(normalizeTime("2021-01-01T00:30:00+01:00"), "2020-12-31T23:30:00Z");
  assert.equal(normalizeTime("2024-02-29T23:00:00-01:00"), "2024-03-01T00:00:00Z");
  assert.equal(normalizeTime("0050-06-01T00:00:00-00:00"), "0050-06-01T00:00:00Z");
  assert.equal(normalizeTime("2016-12-31T23:59:60Z"), "2016-12-31T23:59:60Z");
  for (const bad of [
    "2023-02-29T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-05-13T09:49:61Z",
    "2026-05-13T09:60:00Z",
    "2026-05-13T09:49:12+24:00",
    "2026-05-13T09:49:12.Z",
    "2026-05-13 09:49:12Z",
    "0000-01-01T00:00:00+01:00",
    "2026-05-13T09:49:12Z ",
    "+2026-05-13T09:49:12Z",
  ]) {
    assert.equal(normalizeTime(bad), undefined, bad);
  }
});

test("every discard case of the verification protocol has its own reason", () => {
  const good = signEvent(event, k1, ["exta"]);
  // The same envelope in the URL-safe alphabet: an ignored field of six "~" (0x7e) holds an
  // aligned "~~~", which is "fn5+" in base64.
  const tilde = { ...JSON.parse(Buffer.from(good, "base64").toString()), x: "~~~~~~" };
  const spaced = Buffer.from(JSON.stringify(tilde)).toString("base64");
  assert.match(spaced, /\+/);
  assert.equal(verifyEvent(event, spaced, keys).ok, true);
  const urlSafe = spaced.replaceAll("+", "-").replaceAll("/", "_");
  const cases: [string, string | Uint8Array | undefined, string][] = [
    ["no material", undefined, "unsigned"],
    ["empty material", "", "unsigned"],
    ["empty binary material", new Uint8Array(0), "unsigned"],
    ["length not a multiple of 4", good.slice(0, -1), "material-encoding"],
    ["stray character", `!${good.slice(1)}`, "material-encoding"],
    ["URL-safe alphabet", urlSafe, "material-encoding"],
    ["missing padding", "YQ", "material-encoding"],
    ["wrong padding", "YQ=", "material-encoding"],
    ["non-canonical final bits", "YR==", "material-encoding"],
    ["whitespace inside", `${good.slice(0, 8)} ${good.slice(8)}`, "material-encoding"],
    ["not UTF-8", Buffer.from([0x7b, 0xff, 0x7d]).toString("base64"), "material-utf8"],
    ["not UTF-8 (binary)", new Uint8Array([0x7b, 0xc3, 0x7d]), "material-utf8"],
    ["not JSON", Buffer.from("{payload").toString("base64"), "envelope"],
    ["a JSON array", Buffer.from("[]").toString("base64"), "envelope"],
    [
      "no payload",
      Buffer.from(JSON.stringify({ payloadType: VERIFIABILITY_PAYLOAD_TYPE })).toString("base64"),
      "envelope",
    ],
    [
      "unknown payload type",
      envelopeAround({ core: DIGEST }, "application/vnd.in-toto+json"),
      "payload-type",
    ],
    ["payload not JSON", envelopeAround("not json"), "payload"],
    ["payload a JSON string", envelopeAround('"core"'), "payload"],
    ["payload with trailing junk", envelopeAround(`${JSON.stringify({ core: DIGEST })}=`), "payload"],
    ["no core", envelopeAround({ ext: DIGEST, signedextattrs: ["exta"] }), "payload"],
    ["core not base64", envelopeAround({ core: "%%%%" }), "payload"],
    ["core 31 bytes", envelopeAround({ core: Buffer.alloc(31).toString("base64") }), "digest-length"],
    ["core 33 bytes", envelopeAround({ core: Buffer.alloc(33).toString("base64") }), "digest-length"],
    [
      "ext 16 bytes",
      envelopeAround({ core: DIGEST, ext: Buffer.alloc(16).toString("base64"), signedextattrs: ["exta"] }),
      "digest-length",
    ],
    [
      "repeated name",
      envelopeAround({ core: DIGEST, ext: DIGEST, signedextattrs: ["exta", "exta"] }),
      "signedextattrs",
    ],
    [
      "dssematerial named",
      envelopeAround({ core: DIGEST, ext: DIGEST, signedextattrs: ["dssematerial"] }),
      "signedextattrs",
    ],
    [
      "a number as a name",
      envelopeAround({ core: DIGEST, ext: DIGEST, signedextattrs: [7] }),
      "signedextattrs",
    ],
    ["not an array", envelopeAround({ core: DIGEST, ext: DIGEST, signedextattrs: "exta" }), "signedextattrs"],
    ["signedextattrs without ext", envelopeAround({ core: DIGEST, signedextattrs: ["exta"] }), "ext-pairing"],
    ["ext without signedextattrs", envelopeAround({ core: DIGEST, ext: DIGEST }), "ext-pairing"],
  ];
  for (const name of [
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
  ]) {
    cases.push([
      `core name ${name}`,
      envelopeAround({ core: DIGEST, ext: DIGEST, signedextattrs: ["exta", name] }),
      "signedextattrs",
    ]);
  }
  for (const [name, material, reason] of cases) {
    const result = verifyEvent(event, material, keys);
    assert.equal(result.ok, false, name);
    if (!result.ok) assert.equal(result.reason, reason, `${name}: ${result.message}`);
  }
  assert.equal(verifyEvent(event, good, keys).ok, true);
});

test("signatures count only by an accepted key id and only when they verify", () => {
  const material = signEvent(event, k1);
  assertDiscard(verifyEvent(event, material, new Map([["k2", k1.publicKey]])), "unknown-key");
  const impostor = ed25519("k1");
  assertDiscard(verifyEvent(event, signEvent(event, impostor), keys), "signature");
  // The same key id, but the key is P-256 while the signature is Ed25519.
  assertDiscard(verifyEvent(event, material, new Map([["k1", p256("k1").publicKey]])), "signature");
  const envelope = JSON.parse(Buffer.from(material, "base64").toString()) as Record<string, unknown>;
  const reencode = (e: unknown) => Buffer.from(JSON.stringify(e)).toString("base64");
  assertDiscard(verifyEvent(event, reencode({ ...envelope, signatures: [] }), keys), "envelope");
  assertDiscard(verifyEvent(event, reencode({ ...envelope, signatures: [null] }), keys), "envelope");
  assertDiscard(
    verifyEvent(event, reencode({ ...envelope, signatures: [{ keyid: "k1" }] }), keys),
    "envelope",
  );
  // Unknown fields anywhere are ignored; a signature without a key id is skipped, not fatal.
  const [sig] = envelope.signatures as { keyid: string; sig: string }[];
  const extended = { ...envelope, note: 1, signatures: [{ sig: "AAAA" }, { ...sig, extra: true }] };
  assert.equal(verifyEvent(event, reencode(extended), keys).ok, true);
});

test("a multi-key material verifies with any one accepted key, and tries a bounded number of signatures", () => {
  const k2 = p256("k2");
  const material = signEvent(event, [k1, k2]);
  assert.deepEqual(verifyEvent(event, material, new Map([["k2", k2.publicKey]])), {
    ok: true,
    keyid: "k2",
    signedextattrs: [],
  });
  const envelope = JSON.parse(Buffer.from(material, "base64").toString()) as {
    signatures: { keyid: string; sig: string }[];
  };
  const bogus = Array.from({ length: MAX_SIGNATURE_ATTEMPTS }, () => ({ keyid: "k1", sig: "AAAA" }));
  const flooded = { ...envelope, signatures: [...bogus, ...envelope.signatures] };
  assertDiscard(
    verifyEvent(event, Buffer.from(JSON.stringify(flooded)).toString("base64"), keys),
    "signature",
  );
});

test("changed data, any changed core attribute or a changed signed extension is discarded", () => {
  const material = signEvent(event, k1, ["exta", "extb"]);
  assertDiscard(
    verifyEvent({ ...event, data: Buffer.from('{"total": 13}') }, material, keys),
    "core-mismatch",
  );
  assertDiscard(
    verifyEvent({ ...event, data: Buffer.from('{"total":12}') }, material, keys),
    "core-mismatch",
  );
  for (const name of ["id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject"]) {
    assertDiscard(verifyEvent(withAttrs({ [name]: "changed" }), material, keys), "core-mismatch");
    assertDiscard(verifyEvent(withAttrs({ [name]: undefined }), material, keys), "core-mismatch");
  }
  assertDiscard(
    verifyEvent(withAttrs({ time: "2026-05-13T10:49:13+01:00" }), material, keys),
    "core-mismatch",
  );
  assertDiscard(verifyEvent(withAttrs({ exta: "value2" }), material, keys), "ext-mismatch");
  assertDiscard(verifyEvent(withAttrs({ extb: 43 }), material, keys), "ext-mismatch");
  assertDiscard(verifyEvent(withAttrs({ extb: undefined }), material, keys), "ext-mismatch");
  // Order matters: the same values swapped between the two names no longer match.
  const swapped = signEvent(withAttrs({ exta: "x", extb: "y" }), k1, ["exta", "extb"]);
  assertDiscard(verifyEvent(withAttrs({ exta: "y", extb: "x" }), swapped, keys), "ext-mismatch");
});

test("an unsigned extension may change and still verify, but is not reported as signed", () => {
  const material = signEvent(event, k1, ["exta"]);
  const result = verifyEvent(withAttrs({ unsigned: "rewritten by a proxy", added: "new" }), material, keys);
  assert.deepEqual(result, { ok: true, keyid: "k1", signedextattrs: ["exta"] });
});

test("extension values follow the canonical serialization; other types are refused or discarded", () => {
  const material = signEvent(event, k1, ["extb", "extc"]);
  // Integer 42 and Boolean true serialize as the strings "42" and "true".
  assert.equal(verifyEvent(withAttrs({ extb: "42", extc: "true" }), material, keys).ok, true);
  assertDiscard(verifyEvent(withAttrs({ extc: "True" }), material, keys), "ext-mismatch");
  // Binary hashes its raw bytes, not its base64 text.
  const bytes = new Uint8Array([1, 2, 3]);
  const binary = signEvent(withAttrs({ exta: bytes }), k1, ["exta"]);
  assert.equal(verifyEvent(withAttrs({ exta: new Uint8Array([1, 2, 3]) }), binary, keys).ok, true);
  assertDiscard(verifyEvent(withAttrs({ exta: "AQID" }), binary, keys), "ext-mismatch");
  // A signed name absent from the event hashes like an empty value (the extension's documented collision).
  const absent = signEvent(withAttrs({ exta: undefined }), k1, ["exta"]);
  assert.equal(verifyEvent(withAttrs({ exta: "" }), absent, keys).ok, true);
  const odd = [1.5, Number.NaN, 2 ** 53, { a: 1 }, ["a"]] as unknown as AttributeValue[];
  for (const value of odd) {
    assertDiscard(verifyEvent(withAttrs({ extb: value }), material, keys), "ext-type");
    assert.throws(() => signEvent(withAttrs({ extb: value }), k1, ["extb"]), { code: EVENT_SIGNING_REFUSED });
  }
  assertDiscard(
    verifyEvent(withAttrs({ subject: { a: 1 } as unknown as string }), material, keys),
    "core-type",
  );
});

test("the signer refuses what the extension forbids", () => {
  const refusedLists = [
    ["exta", "exta"],
    ["dssematerial"],
    ["Exta"],
    ["ext-a"],
    ...["id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time"].map(
      (n) => [n],
    ),
  ];
  for (const list of refusedLists) {
    assert.throws(() => signEvent(event, k1, list), {
      code: EVENT_SIGNING_REFUSED,
      message: /^Cannot sign event: /,
    });
  }
  assert.throws(() => signEvent(event, []), { code: EVENT_SIGNING_REFUSED });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
  for (const privateKey of [rsa, p384, k1.publicKey]) {
    assert.throws(() => signEvent(event, { keyid: "x", privateKey }), { code: EVENT_SIGNING_KEY });
  }
  assert.throws(() => signEvent(event, { keyid: "", privateKey: k1.privateKey }), {
    code: EVENT_SIGNING_KEY,
  });
});

test("data alternatives let either byte form of the same data match the core digest", () => {
  const raw = Buffer.from(' {"total": 12}');
  const trimmed = Buffer.from('{"total": 12}');
  const material = signEvent({ ...event, data: trimmed }, k1);
  assertDiscard(verifyEvent({ ...event, data: raw }, material, keys), "core-mismatch");
  assert.equal(verifyEvent({ ...event, data: raw, dataAlternatives: [trimmed] }, material, keys).ok, true);
});

test("verification never throws: every mutation of a material and random bytes are discarded", () => {
  const material = signEvent(event, k1, ["exta"]);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ";
  const random = seededRandom(18);
  for (let i = 0; i < material.length; i++) {
    const c = alphabet[Math.floor(random() * alphabet.length)] as string;
    if (c === material[i]) continue;
    const mutated = material.slice(0, i) + c + material.slice(i + 1);
    assert.equal(verifyEvent(event, mutated, keys).ok, false, `position ${i}`);
  }
  for (let n = 0; n < 200; n++) {
    const bytes = new Uint8Array(Math.floor(random() * 64) + 1).map(() => Math.floor(random() * 256));
    assert.equal(verifyEvent(event, bytes, keys).ok, false);
    assert.equal(verifyEvent(event, Buffer.from(bytes).toString("base64"), keys).ok, false);
  }
  const reencode = (e: unknown) => Buffer.from(JSON.stringify(e)).toString("base64");
  for (const weird of [
    null,
    1,
    "x",
    { payloadType: 1 },
    { payloadType: VERIFIABILITY_PAYLOAD_TYPE, payload: {} },
  ]) {
    assert.equal(verifyEvent(event, reencode(weird), keys).ok, false);
  }
});

test("interop: the independent implementation's Ed25519 and P-256 signatures verify here, and ours there", () => {
  const attributes = { ...event.attributes } as Record<string, unknown>;
  for (const signer of [ed25519("ed"), p256("ec")]) {
    const accepted = new Map([[signer.keyid, signer.publicKey]]);
    for (const names of [[], ["exta", "extb", "extc"]]) {
      const theirs = independentSign(attributes, event.data, signer, names);
      assert.deepEqual(verifyEvent(event, theirs, accepted), {
        ok: true,
        keyid: signer.keyid,
        signedextattrs: names,
      });
      assertDiscard(verifyEvent(withAttrs({ id: "evt-2" }), theirs, accepted), "core-mismatch");

      const ours = signEvent(event, signer, names);
      assert.deepEqual(independentVerify(attributes, event.data, ours, accepted), {
        ok: true,
        keyid: signer.keyid,
      });
      const tampered = { ...attributes, time: "2026-05-13T09:49:13Z" };
      assert.deepEqual(independentVerify(tampered, event.data, ours, accepted), {
        ok: false,
        why: "core mismatch",
      });
    }
    const theirsExt = independentSign(attributes, event.data, signer, ["exta"]);
    assertDiscard(verifyEvent(withAttrs({ exta: "other" }), theirsExt, accepted), "ext-mismatch");
    const oursExt = signEvent(event, signer, ["exta"]);
    assert.equal(
      independentVerify({ ...attributes, exta: "other" }, event.data, oursExt, accepted).ok,
      false,
    );
  }
  // The independent verifier also accepts the spec's Case 7 and rejects Case 6a.
  const c7 = vectorEvent(VECTORS["7"].event);
  assert.equal(independentVerify({ ...c7.attributes }, c7.data, VECTORS["7"].material, specKeys).ok, true);
  const c6 = vectorEvent(VECTORS["6a"].event);
  assert.equal(independentVerify({ ...c6.attributes }, c6.data, VECTORS["6a"].material, specKeys).ok, false);
});
