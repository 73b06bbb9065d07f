import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { localMasterKey, openKeyRing } from "./index.ts";

function dir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), "palisade-keys-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test("a sealed record opens only as itself: changed bytes or another record's name fail", (t) => {
  const d = dir(t);
  const ring = openKeyRing(join(d, "keyring.json"), localMasterKey(join(d, "master.key"), { create: true }));
  const sealed = ring.seal('{"card":"4242"}', "event:/shop\0e-1");
  assert.match(sealed, /^pal1\.1\./);
  assert.ok(!sealed.includes("4242"));
  assert.equal(ring.open(sealed, "event:/shop\0e-1"), '{"card":"4242"}');
  assert.notEqual(ring.seal('{"card":"4242"}', "event:/shop\0e-1"), sealed, "a fresh nonce every time");
  assert.throws(() => ring.open(sealed, "event:/shop\0e-2"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  const raw = Buffer.from(sealed.slice("pal1.1.".length), "base64url");
  raw[20] = (raw[20] ?? 0) ^ 1;
  assert.throws(() => ring.open(`pal1.1.${raw.toString("base64url")}`, "event:/shop\0e-1"), {
    code: "PAL_SECURITY_SEAL_BROKEN",
  });
  // Plaintext planted where a sealed record belongs is refused, not passed through.
  assert.throws(() => ring.open("planted-api-key", "secret:TEST_KEY"), { code: "PAL_SECURITY_SEAL_BROKEN" });
});

test("the master key file is created 0600; the key ring only opens with the same master key", (t) => {
  const d = dir(t);
  const ring = openKeyRing(join(d, "keyring.json"), localMasterKey(join(d, "master.key"), { create: true }));
  const sealed = ring.seal("hello", "r");
  assert.equal(statSync(join(d, "master.key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(d, "keyring.json")).mode & 0o777, 0o600);
  assert.ok(
    !readFileSync(join(d, "keyring.json"), "utf8").includes(
      readFileSync(join(d, "master.key"), "utf8").trim(),
    ),
  );
  assert.throws(() => localMasterKey(join(d, "missing.key"), { create: false }), {
    code: "PAL_SECURITY_KEY_MISSING",
  });
  const other = dir(t);
  assert.throws(
    () => openKeyRing(join(d, "keyring.json"), localMasterKey(join(other, "master.key"), { create: true })),
    { code: "PAL_SECURITY_KEYRING" },
  );
  const again = openKeyRing(
    join(d, "keyring.json"),
    localMasterKey(join(d, "master.key"), { create: false }),
  );
  assert.equal(again.open(sealed, "r"), "hello");
});

test("the master key can come from PALISADE_MASTER_KEY", (t) => {
  const d = dir(t);
  process.env.PALISADE_MASTER_KEY = Buffer.alloc(32, 7).toString("base64");
  t.after(() => delete process.env.PALISADE_MASTER_KEY);
  const master = localMasterKey(join(d, "never.key"), { create: false });
  assert.equal(master.name, "environment");
  process.env.PALISADE_MASTER_KEY = "c2hvcnQ=";
  assert.throws(() => localMasterKey(join(d, "never.key"), { create: false }), /32 random bytes/);
});

test("rotation adds a version for new seals; old versions still open until retired", (t) => {
  const d = dir(t);
  const master = localMasterKey(join(d, "master.key"), { create: true });
  const ring = openKeyRing(join(d, "keyring.json"), master);
  const old = ring.seal("v1 data", "r");
  assert.equal(ring.rotate(), 2);
  const fresh = ring.seal("v2 data", "r");
  assert.equal(ring.versionOf(old), 1);
  assert.equal(ring.versionOf(fresh), 2);
  assert.equal(ring.open(old, "r"), "v1 data");
  // Another process sees the rotation through the file.
  const other = openKeyRing(join(d, "keyring.json"), master);
  assert.equal(other.activeVersion(), 2);
  assert.throws(() => ring.retire(2), /active one/);
  ring.retire(1);
  assert.throws(() => ring.open(old, "r"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  assert.deepEqual(
    ring.versions().map((v) => [v.version, v.retired]),
    [
      [1, true],
      [2, false],
    ],
  );
});

test("a record's authentication code is stable across reopening and rotation, and differs under another master key", (t) => {
  const d = dir(t);
  const master = () => localMasterKey(join(d, "master.key"), { create: true });
  const ring = openKeyRing(join(d, "keyring.json"), master());
  const code = ring.mac("delivery:1\0charge");
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(ring.mac("delivery:1\0refund"), code, "bound to the text");
  ring.rotate();
  assert.equal(openKeyRing(join(d, "keyring.json"), master()).mac("delivery:1\0charge"), code);
  const other = dir(t);
  const foreign = openKeyRing(
    join(other, "keyring.json"),
    localMasterKey(join(other, "master.key"), { create: true }),
  );
  assert.notEqual(foreign.mac("delivery:1\0charge"), code, "another master key, another code");
});
