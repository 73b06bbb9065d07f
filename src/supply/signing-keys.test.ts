import assert from "node:assert/strict";
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  generateSigningKey,
  keyIdOf,
  loadSigningKey,
  loadTrustedKeys,
  SUPPLY_BAD_KEY,
  SUPPLY_KEY_MISSING,
} from "./index.ts";

function emptyApp(t: TestContext): string {
  const app = mkdtempSync(join(tmpdir(), "palisade-supply-keys-"));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  return app;
}

test("a generated signing key is an owner-only Ed25519 pair whose public half the app trusts", (t) => {
  const app = emptyApp(t);
  assert.deepEqual(loadTrustedKeys(app), []);
  const { privateKeyPem, keyid } = generateSigningKey(app);

  assert.equal(statSync(join(app, "keys/signing.key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(app, "keys")).mode & 0o077, 0);
  assert.equal(loadSigningKey(app), privateKeyPem);
  const pub = readFileSync(join(app, "keys/signing.pub"), "utf8");
  assert.match(pub, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.deepEqual(loadTrustedKeys(app), [pub]);
  assert.equal(keyIdOf(pub), keyid);
  const sig = sign(null, Buffer.from("x"), privateKeyPem);
  assert.equal(verify(null, Buffer.from("x"), pub, sig), true);
});

test("generating a signing key never replaces an existing one", (t) => {
  const app = emptyApp(t);
  const first = generateSigningKey(app);
  assert.throws(() => generateSigningKey(app), { code: SUPPLY_BAD_KEY, message: /already exists/ });
  rmSync(join(app, "keys/signing.key"));
  // The committed public key alone is kept too: replacing it would change whom the app trusts.
  assert.throws(() => generateSigningKey(app), {
    code: SUPPLY_BAD_KEY,
    message: /signing\.pub" already exists/,
  });
  assert.equal(keyIdOf(loadTrustedKeys(app)[0] ?? ""), first.keyid);
});

test("a missing signing key says how to create one", (t) => {
  const app = emptyApp(t);
  assert.throws(() => loadSigningKey(app), {
    code: SUPPLY_KEY_MISSING,
    message: new RegExp(
      `^Cannot sign function bundles: no signing key at "${join(app, "keys/signing.key")}"; create the app with palisade init`,
    ),
  });
});

test("a signing key that is not Ed25519 is refused", (t) => {
  const app = emptyApp(t);
  mkdirSync(join(app, "keys"));
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  writeFileSync(join(app, "keys/signing.key"), rsa.export({ type: "pkcs8", format: "pem" }));
  assert.throws(() => loadSigningKey(app), {
    code: SUPPLY_BAD_KEY,
    message: /is a rsa key; expected an Ed25519 private key/,
  });
});

test("every keys/*.pub is trusted, in name order, and nothing else in keys/ is", (t) => {
  const app = emptyApp(t);
  generateSigningKey(app);
  const other = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString();
  writeFileSync(join(app, "keys/ci.pub"), other);
  writeFileSync(join(app, "keys/README.md"), "keys\n");
  const signing = readFileSync(join(app, "keys/signing.pub"), "utf8");
  assert.deepEqual(loadTrustedKeys(app), [other, signing]);
});

test("a trusted key file holding a private key or a non-Ed25519 key is refused", (t) => {
  const app = emptyApp(t);
  const { privateKeyPem } = generateSigningKey(app);
  writeFileSync(join(app, "keys/leak.pub"), privateKeyPem);
  assert.throws(() => loadTrustedKeys(app), {
    code: SUPPLY_BAD_KEY,
    message: /leak\.pub" holds a private key/,
  });
  rmSync(join(app, "keys/leak.pub"));
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
    type: "spki",
    format: "pem",
  });
  writeFileSync(join(app, "keys/rsa.pub"), rsa);
  assert.throws(() => loadTrustedKeys(app), { code: SUPPLY_BAD_KEY, message: /rsa\.pub" is a rsa key/ });
  writeFileSync(join(app, "keys/rsa.pub"), "not a key\n");
  assert.throws(() => loadTrustedKeys(app), {
    code: SUPPLY_BAD_KEY,
    message: /rsa\.pub" is not an Ed25519 public key/,
  });
});
