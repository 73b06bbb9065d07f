import assert from "node:assert/strict";
import { createPublicKey, sign, verify } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  EVENT_KEY_FILE,
  EVENT_TRUST_DIR,
  ensureEventKey,
  eventKeysJwks,
  loadEventTrust,
  rotateEventKey,
} from "./index.ts";

function appDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-event-key-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("the event key is made once, private half 0600, public half trusted under its key id", (t) => {
  const dir = appDir(t);
  const key = ensureEventKey(dir);
  assert.match(key.keyid, /^events-[0-9a-f]{16}$/);
  assert.equal(statSync(join(dir, EVENT_KEY_FILE)).mode & 0o777, 0o600);
  assert.equal(ensureEventKey(dir).keyid, key.keyid, "the same key on the next start");
  assert.deepEqual([...loadEventTrust(dir).keys()], [key.keyid]);
  assert.deepEqual(readdirSync(join(dir, EVENT_TRUST_DIR)), [`${key.keyid}.pub`]);
});

test("rotation signs with a new key from then on and keeps every earlier key id verifiable", (t) => {
  const dir = appDir(t);
  const old = ensureEventKey(dir);
  const message = Buffer.from("signed before the rotation");
  const signature = sign(null, message, old.privateKey);
  const next = rotateEventKey(dir);
  assert.notEqual(next, old.keyid);
  assert.equal(ensureEventKey(dir).keyid, next);
  const trust = loadEventTrust(dir);
  assert.deepEqual([...trust.keys()].sort(), [old.keyid, next].sort());
  assert.ok(verify(null, message, trust.get(old.keyid) as never, signature));
  // What receivers get: a JWKS whose keys carry their ids and verify the same.
  const jwks = eventKeysJwks(trust);
  const jwk = jwks.keys.find(
    (k) => (k as { kid: string }).kid === old.keyid,
  ) as import("node:crypto").webcrypto.JsonWebKey;
  assert.ok(verify(null, message, createPublicKey({ key: jwk, format: "jwk" }), signature));
});

test("a private key left in the trust directory is refused, naming the file", (t) => {
  const dir = appDir(t);
  const key = ensureEventKey(dir);
  const planted = join(dir, EVENT_TRUST_DIR, "planted.pub");
  writeFileSync(planted, key.privateKey.export({ type: "pkcs8", format: "pem" }));
  assert.throws(
    () => loadEventTrust(dir),
    (err: Error) => err.message.includes(planted) && /private key/.test(err.message),
  );
});
