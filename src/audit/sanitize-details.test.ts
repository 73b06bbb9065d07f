import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalJson, isSensitiveKey, looksLikeSecret, REDACTED, sanitizeDetails } from "./index.ts";

test("members under keys that name secret values are redacted, whatever their case or separators", () => {
  for (const key of [
    "value",
    "Value",
    "newValue",
    "secret",
    "clientSecret",
    "client_secret",
    "token",
    "accessToken",
    "refresh-token",
    "password",
    "DB_PASSWORD",
    "passphrase",
    "authorization",
    "Authorization",
    "apiKey",
    "api_key",
    "X-Api-Key",
    "privateKey",
    "credentials",
    "cookie",
  ]) {
    assert.ok(isSensitiveKey(key), key);
    assert.deepEqual(sanitizeDetails({ [key]: "s3cr3t" }), { [key]: REDACTED }, key);
  }
  for (const key of ["secretName", "name", "keyid", "tokenCount", "principal", "reason", "version"]) {
    assert.ok(!isSensitiveKey(key), key);
  }
  // Objects and arrays under a sensitive key go as a whole.
  assert.deepEqual(sanitizeDetails({ secrets: { STRIPE_KEY: "sk" }, tokens: ["a", "b"] }), {
    secrets: REDACTED,
    tokens: REDACTED,
  });
});

test("strings that look like credentials are redacted under any key, at any depth", () => {
  const secrets = [
    "Bearer abc.def.ghi",
    "basic dXNlcjpwYXNz",
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG\n-----END PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.sig",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "xoxb-1234567890-abcdefghij",
    "AKIAIOSFODNN7EXAMPLE",
    "https://admin:hunter2@db.internal:5432/app",
    "failed with header Bearer abc", // not at the start: kept (no credential shape)
  ];
  const flagged = secrets.map(looksLikeSecret);
  assert.deepEqual(flagged, [true, true, true, true, true, true, true, true, true, true, true, false]);
  const out = sanitizeDetails({ reason: secrets[4], nested: { list: [1, { note: secrets[9] }] } });
  assert.deepEqual(out, { reason: REDACTED, nested: { list: [1, { note: REDACTED }] } });
  for (const ok of [
    "order.created",
    "203.0.113.9",
    "unauthenticated",
    "sha256:9f86d081884c7d65",
    "STRIPE_KEY",
  ]) {
    assert.ok(!looksLikeSecret(ok), ok);
  }
});

test("no secret-like value survives in the canonical body, however it is nested", () => {
  const canaries = ["CANARY-value-1", "CANARY-secret-2", "CANARY-token-3", "CANARY-pass-4"];
  const details = {
    request: { headers: { authorization: canaries[0], "x-api-key": canaries[1] } },
    attempts: [{ token: canaries[2] }, { creds: { password: canaries[3] } }],
  };
  const text = canonicalJson(sanitizeDetails(details));
  for (const canary of canaries) assert.ok(!text.includes(canary), `${canary} leaked: ${text}`);
  assert.match(text, /"request":\{"headers":\{"authorization":"\[REDACTED\]"/);
});

test("what JSON cannot hold is made JSON-safe, and size and depth are bounded", () => {
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const out = sanitizeDetails({
    big: 12345678901234567890n,
    when: new Date(0),
    bytes: Buffer.from("key material"),
    error: new TypeError("boom"),
    skip: undefined,
    fn: () => 1,
    nan: Number.NaN,
    long: "x".repeat(5000),
    many: Array.from({ length: 150 }, (_, i) => i),
    cyclic,
  });
  assert.equal(out.big, "12345678901234567890");
  assert.equal(out.when, "1970-01-01T00:00:00.000Z");
  assert.equal(out.bytes, "[12 bytes]");
  assert.deepEqual(out.error, { name: "TypeError", message: "boom" });
  assert.ok(!("skip" in out) && !("fn" in out));
  assert.equal(out.nan, null);
  assert.equal((out.long as string).length, 2049);
  assert.equal((out.many as unknown[]).length, 101);
  assert.equal((out.many as unknown[])[100], "[50 more]");
  assert.match(JSON.stringify(out.cyclic), /\[…\]/);
});

test("a __proto__ key stays data and the canonical form sorts keys as JCS does", () => {
  const parsed = JSON.parse('{"__proto__": {"polluted": true}, "b": 1}');
  const out = sanitizeDetails(parsed);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(canonicalJson(out), '{"__proto__":{"polluted":true},"b":1}');
  assert.equal(
    canonicalJson({ b: 1, a: [true, null], "10": 1, "9": 2, é: 3, Z: 4 }),
    '{"10":1,"9":2,"Z":4,"a":[true,null],"b":1,"é":3}',
  );
  const text = canonicalJson({ z: { y: 1, x: 2 }, a: "ü\n" });
  assert.equal(canonicalJson(JSON.parse(text)), text);
});
