import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { type TestContext, test } from "node:test";
import { NUMBER_SCHEMA, tempApp } from "../../test/kit/temp-app.ts";
import { DEFAULT_SINK_RETRY, loadApp } from "./index.ts";

const BASE = `name: shop
events:
  order.created: { schema: schemas/order.json }
functions: {}
`;

const ED = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;
const RSA = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
  type: "spki",
  format: "pem",
}) as string;

function load(t: TestContext, extra: string, files: Record<string, string | object> = {}) {
  const dir = tempApp(t, { "schemas/order.json": NUMBER_SCHEMA, ...files, "palisade.yaml": BASE + extra });
  return loadApp(dir);
}

function problems(t: TestContext, extra: string, files: Record<string, string | object> = {}): string[] {
  try {
    load(t, extra, files);
  } catch (err) {
    return (err as { details: string[] }).details;
  }
  return assert.fail("expected the manifest to be refused");
}

const PRINCIPAL = (signing: string) => `principals:
  shop:
    apiKey: { secret: SHOP_KEY }
    publish: [order.created]
    signing: ${signing}
`;

test("a principal's signing keys load by key id, and signatures are then required by default", (t) => {
  const app = load(t, PRINCIPAL("{ keys: [{ keyid: shop-1, publicKey: keys/shop.pem }] }"), {
    "keys/shop.pem": ED,
  });
  const signing = app.principals.get("shop")?.signing;
  assert.deepEqual([...(signing?.keys.keys() ?? [])], ["shop-1"]);
  assert.equal(signing?.requireSigned, true);
  const optional = load(
    t,
    PRINCIPAL("{ keys: [{ keyid: shop-1, publicKey: keys/shop.pem }], requireSigned: false }"),
    { "keys/shop.pem": ED },
  );
  assert.equal(optional.principals.get("shop")?.signing?.requireSigned, false);
});

test("signing keys outside the app, missing, of another algorithm or declared twice are refused with the path", (t) => {
  const outside = problems(t, PRINCIPAL("{ keys: [{ keyid: k, publicKey: ../shop.pem }] }"));
  assert.match(
    outside.join("\n"),
    /principals\.shop\.signing\.keys\[0\]\.publicKey: "\.\.\/shop\.pem" is outside the app directory/,
  );
  const missing = problems(t, PRINCIPAL("{ jwks: keys/none.json }"));
  assert.match(missing.join("\n"), /principals\.shop\.signing\.jwks: file "keys\/none\.json" does not exist/);
  const rsa = problems(t, PRINCIPAL("{ keys: [{ keyid: k, publicKey: keys/rsa.pem }] }"), {
    "keys/rsa.pem": RSA,
  });
  assert.match(rsa.join("\n"), /principals\.shop\.signing: .*Ed25519 or ECDSA P-256/);
  const both = problems(
    t,
    PRINCIPAL("{ keys: [{ keyid: k, publicKey: keys/shop.pem }], jwks: keys/shop.pem }"),
    {
      "keys/shop.pem": ED,
    },
  );
  assert.match(both.join("\n"), /declares both "keys" and "jwks"/);
});

test("a sink resolves with secure defaults; http goes only to a listed address", (t) => {
  const app = load(
    t,
    `sinks:
  ledger:
    url: https://ledger.example.com/in
    on: [order.created]
    auth: { webhook: { secret: LEDGER_SECRET } }
  internal:
    url: http://10.0.0.5:8080/hook
    on: [order.*]
    mode: binary
    allowAddresses: ["10.0.0.5"]
    rateLimit: { perSecond: 5 }
`,
  );
  const ledger = app.sinks.get("ledger");
  assert.equal(ledger?.mode, "structured");
  assert.deepEqual(ledger?.auth, { kind: "webhook", secret: "LEDGER_SECRET" });
  assert.deepEqual(ledger?.retry, DEFAULT_SINK_RETRY);
  assert.deepEqual(ledger?.allowAddresses, []);
  assert.deepEqual(app.sinks.get("internal")?.rateLimit, { perSecond: 5, burst: 5 });
});

test("sink urls and addresses that would widen egress are refused, each naming the fix", (t) => {
  const details = problems(
    t,
    `sinks:
  plain: { url: "http://ledger.example.com/in", on: [order.created] }
  creds: { url: "https://user:pw@ledger.example.com/", on: [order.created] }
  ranged: { url: "https://ledger.example.com/", on: [order.created], allowAddresses: ["10.0.0.0/8"] }
  typo: { url: "https://ledger.example.com/", on: [order.create] }
  ftp: { url: "ftp://ledger.example.com/", on: [order.created] }
`,
  ).join("\n");
  assert.match(details, /sinks\.plain\.url: plain http:\/\/ is only for an address listed in allowAddresses/);
  assert.match(details, /sinks\.creds\.url: must not carry credentials/);
  assert.match(details, /sinks\.ranged\.allowAddresses\[0\]: "10\.0\.0\.0\/8" is not an IP address/);
  assert.match(details, /sinks\.typo\.on\[0\]: unknown event type "order\.create"/);
  assert.match(details, /sinks\.ftp\.url: scheme "ftp:" is not supported/);
});
