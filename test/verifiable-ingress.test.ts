/**
 * Producer-signed events at a real gateway (CloudEvents verifiability extension): events signed by an
 * independent implementation of the spec (test/kit/independent-verifiability.ts) are accepted in
 * structured, binary and batch mode and marked verified; every case the spec says "MUST be
 * discarded" is a 4xx naming the reason, never a 5xx and never stored; a verified event keeps only
 * its signed extensions; a function with requireVerified never sees an unsigned event.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { type TestContext, test } from "node:test";
import { type Platform, startPlatform } from "../src/main.ts";
import { independentSign } from "./kit/independent-verifiability.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const ED = generateKeyPairSync("ed25519");
const P256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
const OTHER = generateKeyPairSync("ed25519");
const SIGNER_KEY = "signer-key-0123456789";
const LOOSE_KEY = "loose-key-0123456789";

const pem = (key: KeyObject) => key.export({ type: "spki", format: "pem" }) as string;

async function startApp(t: TestContext) {
  const logs = captureLogs();
  const dir = tempApp(t, {
    "palisade.yaml": `name: signed
events:
  order.placed: { schema: schemas/order.json }
principals:
  signer:
    apiKey: { secret: SIGNER_KEY }
    publish: [order.placed]
    signing:
      keys:
        - { keyid: shop-ed, publicKey: keys/shop-ed.pem }
  partner:
    apiKey: { secret: PARTNER_KEY }
    publish: [order.placed]
    signing: { jwks: keys/partner.jwks.json }
  loose:
    apiKey: { secret: LOOSE_KEY }
    publish: [order.placed]
    signing:
      keys: [{ keyid: loose-ed, publicKey: keys/loose-ed.pem }]
      requireSigned: false
functions:
  strict:
    handler: functions/seen.ts
    on: [order.placed]
    requireVerified: true
  any:
    handler: functions/seen.ts
    on: [order.placed]
`,
    "schemas/order.json": {
      type: "object",
      required: ["orderId"],
      properties: { orderId: { type: "string" }, amount: { type: "number" } },
    },
    "keys/shop-ed.pem": pem(ED.publicKey),
    "keys/loose-ed.pem": pem(ED.publicKey),
    "keys/partner.jwks.json": {
      keys: [{ ...P256.publicKey.export({ format: "jwk" }), kid: "partner-p256" }],
    },
    "functions/seen.ts": `export default (event, ctx) => ctx.log.info("seen", {
  verified: event.verified ?? null,
  extensions: Object.keys(event.extensions ?? {}).sort().join(","),
});`,
  });
  setSecret(dir, "SIGNER_KEY", SIGNER_KEY);
  setSecret(dir, "PARTNER_KEY", "partner-key-0123456789");
  setSecret(dir, "LOOSE_KEY", LOOSE_KEY);
  const platform: Platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  return { platform, logs };
}

let serial = 0;
/** A structured event as a producer writes it: attributes, and the data member's exact text. */
function draft(extra: Record<string, unknown> = {}, data = '{"orderId":"o-1","amount":5}') {
  serial += 1;
  const attributes: Record<string, unknown> = {
    specversion: "1.0",
    id: `evt-${serial}`,
    source: "https://shop.example/checkout",
    type: "order.placed",
    datacontenttype: "application/json",
    time: "2026-12-04T10:00:00+01:00",
    ...extra,
  };
  return { attributes, data };
}

type Draft = ReturnType<typeof draft>;

const structured = (d: Draft, material?: string) =>
  `${JSON.stringify(material === undefined ? d.attributes : { ...d.attributes, dssematerial: material }).slice(0, -1)},"data":${d.data}}`;

const signed = (d: Draft, key = { keyid: "shop-ed", privateKey: ED.privateKey }, ext: string[] = []) =>
  independentSign(d.attributes, Buffer.from(d.data), key, ext);

async function post(
  platform: Platform,
  body: string,
  key = SIGNER_KEY,
  contentType = "application/cloudevents+json",
) {
  const res = await fetch(`${platform.url}/events`, {
    method: "POST",
    headers: { "content-type": contentType, authorization: `Bearer ${key}` },
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      ids?: string[];
      error?: { code: string; details?: { reason: string; pointer: string }[] };
    },
  };
}

async function storedOne(platform: Platform, id: string) {
  const found = await platform.store.events.find(id);
  return found[0]?.event;
}

/** DSSE v1.0.2 material over any payload (for the malformed-payload cases a signer must refuse). */
function rawMaterial(
  payload: string,
  keyid = "shop-ed",
  payloadType = "https://cloudevents.io/verifiability/dsse/v0.1",
) {
  const body = Buffer.from(payload);
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${body.length} `),
    body,
  ]);
  const sig = sign(null, pae, ED.privateKey).toString("base64");
  const envelope = { payload: body.toString("base64"), payloadType, signatures: [{ keyid, sig }] };
  return Buffer.from(JSON.stringify(envelope)).toString("base64");
}

const b64 = (bytes: Buffer) => bytes.toString("base64");
const sha = (s: string) => createHash("sha256").update(s).digest();

test("events signed by an independent implementation are accepted and marked verified, in structured, binary and batch mode", async (t) => {
  const { platform, logs } = await startApp(t);

  // Structured, with one signed and one unsigned extension: only the signed one is kept.
  const one = draft({ tenant: "acme", note: "unsigned" });
  const a = await post(platform, structured(one, signed(one, undefined, ["tenant"])));
  assert.equal(a.status, 202, JSON.stringify(a.body));
  const stored = await storedOne(platform, String(one.attributes.id));
  assert.equal(stored?.verified, "shop-ed");
  assert.deepEqual(stored?.extensions, { tenant: "acme" });
  assert.equal(stored?.dssematerial, undefined, "the producer's material is not stored");
  const seen = await logs.waitFor(
    (l) => l.msg === "seen" && l.eventId === one.attributes.id && l.fn === "strict",
  );
  assert.equal(seen.verified, "shop-ed");
  assert.equal(seen.extensions, "tenant");

  // Binary mode: ce-* headers and the body bytes as sent (pretty-printed here).
  const bin = draft({}, '{\n  "orderId": "o-2"\n}');
  const { datacontenttype: _ct, ...headersOf } = bin.attributes;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    authorization: `Bearer ${SIGNER_KEY}`,
    "ce-dssematerial": signed(bin),
  };
  for (const [name, value] of Object.entries(headersOf)) headers[`ce-${name}`] = String(value);
  const b = await fetch(`${platform.url}/events`, { method: "POST", headers, body: bin.data });
  assert.equal(b.status, 202, await b.clone().text());
  assert.equal((await storedOne(platform, String(bin.attributes.id)))?.verified, "shop-ed");

  // Batch: each event verified over its own data member's text; P-256 from a JWKS principal.
  const p1 = draft();
  const p2 = draft({}, ' { "orderId" : "o-3" }');
  const key = { keyid: "partner-p256", privateKey: P256.privateKey };
  const batch = `[${structured(p1, signed(p1, key))},${structured(p2, signed(p2, key))}]`;
  const c = await post(platform, batch, "partner-key-0123456789", "application/cloudevents-batch+json");
  assert.equal(c.status, 202, JSON.stringify(c.body));
  for (const p of [p1, p2])
    assert.equal((await storedOne(platform, String(p.attributes.id)))?.verified, "partner-p256");
});

test("time in another zone that is the same instant verifies", async (t) => {
  const { platform } = await startApp(t);
  const d = draft({ time: "2026-12-04T09:00:00.250Z" });
  const material = signed(d);
  const shifted = { ...d, attributes: { ...d.attributes, time: "2026-12-04T10:00:00.999+01:00" } };
  const res = await post(platform, structured(shifted, material));
  assert.equal(res.status, 202, JSON.stringify(res.body));
});

test("every case the spec says must be discarded is a 4xx naming the reason, and nothing is stored", async (t) => {
  const { platform } = await startApp(t);
  const cases: [string, () => string, number, string][] = [];
  const add = (name: string, body: () => string, status: number, reason: string) =>
    cases.push([name, body, status, reason]);
  const d = () => draft({ tenant: "acme" });

  add("missing material (signatures required)", () => structured(d()), 403, "unsigned");
  add("material that is not base64", () => structured(d(), "not*base64!"), 400, "material-encoding");
  add(
    "material that is not UTF-8",
    () => structured(d(), b64(Buffer.from([0xff, 0xfe, 0xfd]))),
    400,
    "material-utf8",
  );
  add(
    "material that is not a DSSE envelope",
    () => structured(d(), b64(Buffer.from("{ not json"))),
    400,
    "envelope",
  );
  add(
    "an unknown payload type",
    () => structured(d(), rawMaterial('{"core":"x"}', "shop-ed", "application/vnd.other+json")),
    400,
    "payload-type",
  );
  add("a payload that is not JSON", () => structured(d(), rawMaterial("nope")), 400, "payload");
  add(
    "a core digest of 31 bytes",
    () => structured(d(), rawMaterial(JSON.stringify({ core: b64(Buffer.alloc(31)) }))),
    400,
    "digest-length",
  );
  const core = b64(sha("x"));
  for (const [what, list] of [
    ["a repeated name", ["tenant", "tenant"]],
    ["a core attribute name", ["tenant", "id"]],
    ["dssematerial itself", ["dssematerial"]],
  ] as const)
    add(
      `signedextattrs with ${what}`,
      () => structured(d(), rawMaterial(JSON.stringify({ core, ext: core, signedextattrs: list }))),
      400,
      "signedextattrs",
    );
  add(
    "signedextattrs without ext",
    () => structured(d(), rawMaterial(JSON.stringify({ core, signedextattrs: ["tenant"] }))),
    400,
    "ext-pairing",
  );
  add(
    "ext without signedextattrs",
    () => structured(d(), rawMaterial(JSON.stringify({ core, ext: core }))),
    400,
    "ext-pairing",
  );
  add(
    "an unknown key id",
    () => {
      const e = d();
      return structured(e, signed(e, { keyid: "stranger", privateKey: ED.privateKey }));
    },
    403,
    "unknown-key",
  );
  add(
    "a wrong signature",
    () => {
      const e = d();
      return structured(e, signed(e, { keyid: "shop-ed", privateKey: OTHER.privateKey }));
    },
    403,
    "signature",
  );
  add(
    "modified data",
    () => {
      const e = d();
      const m = signed(e);
      return structured({ ...e, data: '{"orderId":"o-1","amount":500}' }, m);
    },
    403,
    "core-mismatch",
  );
  add(
    "a modified core attribute",
    () => {
      const e = d();
      const m = signed(e);
      return structured({ ...e, attributes: { ...e.attributes, subject: "other" } }, m);
    },
    403,
    "core-mismatch",
  );
  add(
    "a modified signed extension",
    () => {
      const e = d();
      const m = signed(e, undefined, ["tenant"]);
      return structured({ ...e, attributes: { ...e.attributes, tenant: "evil" } }, m);
    },
    403,
    "ext-mismatch",
  );

  for (const [name, body, status, reason] of cases) {
    const res = await post(platform, body());
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error?.details?.[0]?.reason, reason, `${name}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error?.code ?? "", /^PAL_GATEWAY_UNSIGNED$|^PAL_GATEWAY_UNVERIFIED$/, name);
  }
  assert.equal((await platform.store.events.read(0, 100)).length, 0, "nothing discarded was stored");

  // In a batch, one bad event refuses the batch and its pointer names it.
  const good = d();
  const bad = d();
  const res = await post(
    platform,
    `[${structured(good, signed(good))},${structured(bad, signed(bad, { keyid: "shop-ed", privateKey: OTHER.privateKey }))}]`,
    SIGNER_KEY,
    "application/cloudevents-batch+json",
  );
  assert.equal(res.status, 403);
  assert.equal(res.body.error?.details?.[0]?.pointer, "/1/dssematerial");
  assert.equal((await platform.store.events.read(0, 100)).length, 0);
});

test("a principal with requireSigned false may send unsigned events; they never reach a requireVerified function", async (t) => {
  const { platform, logs } = await startApp(t);
  const plain = draft({ tenant: "acme" });
  const res = await post(platform, structured(plain), LOOSE_KEY);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = String(plain.attributes.id);
  const stored = await storedOne(platform, id);
  assert.equal(stored?.verified, undefined);
  await logs.waitFor((l) => l.msg === "seen" && l.eventId === id && l.fn === "any");
  const targets = (await platform.store.queue.deliveries(id)).map((d) => d.target);
  assert.deepEqual(targets, ["any"], "no delivery was made for the requireVerified function");

  // Signed, from the same principal: verified, and both functions get it.
  const sig = draft();
  assert.equal(
    (
      await post(
        platform,
        structured(sig, signed(sig, { keyid: "loose-ed", privateKey: ED.privateKey })),
        LOOSE_KEY,
      )
    ).status,
    202,
  );
  await logs.waitFor((l) => l.msg === "seen" && l.eventId === sig.attributes.id && l.fn === "strict");

  // A bad signature is refused even though signatures are optional for this principal.
  const forged = draft();
  const bad = await post(
    platform,
    structured(forged, signed(forged, { keyid: "loose-ed", privateKey: OTHER.privateKey })),
    LOOSE_KEY,
  );
  assert.equal(bad.status, 403);
});

test("a producer cannot set verified itself", async (t) => {
  const { platform } = await startApp(t);
  const claim = draft({ verified: "shop-ed" });
  const res = await post(platform, structured(claim, signed(claim)));
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.match(JSON.stringify(res.body), /verified/);
});
