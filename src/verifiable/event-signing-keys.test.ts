import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { EVENT_KEY_INVALID, loadSigningKey, loadVerifyingKeys } from "./event-signing-keys.ts";

function appDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-event-keys-"));
  mkdirSync(join(dir, "keys"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function pair(kind: "ed25519" | "p256" | "p384" | "rsa") {
  if (kind === "ed25519") return generateKeyPairSync("ed25519");
  if (kind === "rsa") return generateKeyPairSync("rsa", { modulusLength: 2048 });
  return generateKeyPairSync("ec", { namedCurve: kind === "p256" ? "P-256" : "P-384" });
}

function pem(key: KeyObject): string {
  return key.type === "private"
    ? (key.export({ type: "pkcs8", format: "pem" }) as string)
    : (key.export({ type: "spki", format: "pem" }) as string);
}

function jwk(key: KeyObject, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...key.export({ format: "jwk" }), ...extra };
}

/** The loaded public key checks a signature made by the private half it was declared for. */
function assertPairs(publicKey: KeyObject | undefined, privateKey: KeyObject): void {
  assert.ok(publicKey);
  const message = Buffer.from("event");
  if (publicKey.asymmetricKeyType === "ed25519") {
    assert.equal(verify(null, message, publicKey, sign(null, message, privateKey)), true);
  } else {
    const sig = sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
    assert.equal(verify("sha256", message, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig), true);
  }
}

function assertRefused(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: Error & { code?: string }) => {
    assert.equal(err.code, EVENT_KEY_INVALID);
    assert.match(err.message, /^Cannot load event-signing keys: /);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test("PEM public keys load by their declared key ids, paths relative to the app", (t) => {
  const dir = appDir(t);
  const ed = pair("ed25519");
  const ec = pair("p256");
  writeFileSync(join(dir, "keys/ed.pub"), pem(ed.publicKey));
  writeFileSync(join(dir, "keys/ec.pem"), pem(ec.publicKey));
  const keys = loadVerifyingKeys(
    {
      keys: [
        { keyid: "producer-ed", publicKey: "keys/ed.pub" },
        { keyid: "producer-ec", publicKey: join(dir, "keys/ec.pem") },
      ],
    },
    dir,
  );
  assert.deepEqual([...keys.keys()], ["producer-ed", "producer-ec"]);
  assertPairs(keys.get("producer-ed"), ed.privateKey);
  assertPairs(keys.get("producer-ec"), ec.privateKey);
});

test("a JWKS loads by kid, Ed25519 and P-256 alike", (t) => {
  const dir = appDir(t);
  const ed = pair("ed25519");
  const ec = pair("p256");
  const jwks = {
    keys: [
      jwk(ed.publicKey, { kid: "a", use: "sig", alg: "EdDSA" }),
      jwk(ec.publicKey, { kid: "b", alg: "ES256" }),
    ],
  };
  writeFileSync(join(dir, "keys/jwks.json"), JSON.stringify(jwks));
  const keys = loadVerifyingKeys({ jwks: "keys/jwks.json" }, dir);
  assert.deepEqual([...keys.keys()], ["a", "b"]);
  assertPairs(keys.get("a"), ed.privateKey);
  assertPairs(keys.get("b"), ec.privateKey);
});

test("other key types, private keys and missing files are refused, naming the file and key", (t) => {
  const dir = appDir(t);
  writeFileSync(join(dir, "keys/rsa.pub"), pem(pair("rsa").publicKey));
  writeFileSync(join(dir, "keys/p384.pub"), pem(pair("p384").publicKey));
  writeFileSync(join(dir, "keys/leaked.pub"), pem(pair("ed25519").privateKey));
  writeFileSync(join(dir, "keys/junk.pub"), "not a key");
  const one = (file: string) => ({ keys: [{ keyid: "k", publicKey: `keys/${file}` }] });
  assertRefused(
    () => loadVerifyingKeys(one("rsa.pub"), dir),
    /rsa\.pub/,
    /"k"/,
    /a key of type rsa/,
    /Ed25519 or ECDSA P-256/,
  );
  assertRefused(() => loadVerifyingKeys(one("p384.pub"), dir), /p384\.pub/, /secp384r1/);
  assertRefused(() => loadVerifyingKeys(one("leaked.pub"), dir), /leaked\.pub/, /private key/, /rotate/);
  assertRefused(() => loadVerifyingKeys(one("junk.pub"), dir), /junk\.pub/);
  assertRefused(() => loadVerifyingKeys(one("absent.pub"), dir), /absent\.pub/, /does not exist/);
  const ed = pem(pair("ed25519").publicKey);
  writeFileSync(join(dir, "keys/ok.pub"), ed);
  const twice = {
    keys: [
      { keyid: "k", publicKey: "keys/ok.pub" },
      { keyid: "k", publicKey: "keys/ok.pub" },
    ],
  };
  assertRefused(() => loadVerifyingKeys(twice, dir), /"k" is declared twice/);
  assertRefused(
    () => loadVerifyingKeys({ keys: [{ keyid: "", publicKey: "keys/ok.pub" }] }, dir),
    /no key id/,
  );
  assertRefused(() => loadVerifyingKeys({ keys: [] }, dir), /empty/);
  const both = { keys: [{ keyid: "k", publicKey: "keys/ok.pub" }], jwks: "x.json" } as never;
  assertRefused(() => loadVerifyingKeys(both, dir), /exactly one/);
});

test("a JWKS without kids, with repeated kids, private or foreign keys is refused", (t) => {
  const dir = appDir(t);
  const ed = pair("ed25519");
  const write = (keys: unknown) => {
    writeFileSync(join(dir, "keys/jwks.json"), JSON.stringify({ keys }));
    return () => loadVerifyingKeys({ jwks: "keys/jwks.json" }, dir);
  };
  assertRefused(write([jwk(ed.publicKey)]), /jwks\.json/, /key 1/, /no "kid"/);
  assertRefused(
    write([jwk(ed.publicKey, { kid: "a" }), jwk(pair("p256").publicKey, { kid: "a" })]),
    /"a" appears twice/,
  );
  assertRefused(write([jwk(ed.privateKey, { kid: "a" })]), /key 1 \("a"\) is a private key/);
  assertRefused(write([jwk(pair("rsa").publicKey, { kid: "r" })]), /\("r"\)/, /a key of type rsa/);
  assertRefused(write([jwk(pair("p384").publicKey, { kid: "e" })]), /secp384r1/);
  assertRefused(write([jwk(ed.publicKey, { kid: "a", use: "enc" })]), /"use": "enc"/);
  assertRefused(write([jwk(ed.publicKey, { kid: "a", alg: "RS256" })]), /"alg": "RS256"/);
  assertRefused(write([]), /has no keys/);
  assertRefused(write(["nope"]), /not a JWKS/);
  writeFileSync(join(dir, "keys/bad.json"), "{");
  assertRefused(() => loadVerifyingKeys({ jwks: "keys/bad.json" }, dir), /bad\.json" is not JSON/);
  assertRefused(() => loadVerifyingKeys({ jwks: "keys/none.json" }, dir), /none\.json/, /does not exist/);
});

test("a signing key loads from PEM or JWK with its key id from the argument, the kid or the file name", (t) => {
  const dir = appDir(t);
  const ed = pair("ed25519");
  const ec = pair("p256");
  writeFileSync(join(dir, "keys/producer.key"), pem(ed.privateKey));
  writeFileSync(join(dir, "keys/ec.jwk.json"), JSON.stringify(jwk(ec.privateKey, { kid: "ec-2026" })));
  writeFileSync(join(dir, "keys/anon.json"), JSON.stringify(jwk(ec.privateKey)));

  const fromPem = loadSigningKey(join(dir, "keys/producer.key"));
  assert.equal(fromPem.keyid, "producer");
  assertPairs(ed.publicKey, fromPem.privateKey);
  assert.equal(loadSigningKey(join(dir, "keys/producer.key"), "explicit").keyid, "explicit");
  const fromJwk = loadSigningKey(join(dir, "keys/ec.jwk.json"));
  assert.equal(fromJwk.keyid, "ec-2026");
  assertPairs(ec.publicKey, fromJwk.privateKey);
  assert.equal(loadSigningKey(join(dir, "keys/ec.jwk.json"), "override").keyid, "override");
  assert.equal(loadSigningKey(join(dir, "keys/anon.json")).keyid, "anon");
});

test("a signing key that is public, of another type or absent is refused", (t) => {
  const dir = appDir(t);
  const files: Record<string, string> = {
    "pub.pem": pem(pair("ed25519").publicKey),
    "pub.json": JSON.stringify(jwk(pair("ed25519").publicKey)),
    "rsa.key": pem(pair("rsa").privateKey),
    "p384.json": JSON.stringify(jwk(pair("p384").privateKey)),
    "bad.json": "{ nope",
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  assertRefused(() => loadSigningKey(join(dir, "pub.pem")), /pub\.pem/, /not a PEM private key/);
  assertRefused(() => loadSigningKey(join(dir, "pub.json")), /pub\.json/, /no "d"/);
  assertRefused(() => loadSigningKey(join(dir, "rsa.key")), /rsa\.key/, /a key of type rsa/);
  assertRefused(() => loadSigningKey(join(dir, "p384.json")), /secp384r1/);
  assertRefused(() => loadSigningKey(join(dir, "bad.json")), /not JSON/);
  assertRefused(() => loadSigningKey(join(dir, "missing.key")), /missing\.key/, /does not exist/);
});
