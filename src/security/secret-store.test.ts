import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { localMasterKey, openFileSecretStore, openKeyRing } from "./index.ts";

function setup(t: TestContext) {
  const d = mkdtempSync(join(tmpdir(), "palisade-secrets-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const ring = openKeyRing(join(d, "keyring.json"), localMasterKey(join(d, "master.key"), { create: true }));
  return { d, ring, file: join(d, "secrets.json") };
}

test("an older secrets.json put back is ignored by a running store and refused by a new one", (t) => {
  const { d, ring, file } = setup(t);
  const rollbacks: [number, number][] = [];
  const store = openFileSecretStore(file, ring, {
    onRollback: (found, expected) => rollbacks.push([found, expected]),
  });
  store.set("API_KEY", "old-key");
  store.set("OTHER", "other");
  copyFileSync(file, join(d, "backup.json"));
  store.rotate("API_KEY", "new-key", 0); // the old key is revoked
  assert.equal(store.generation(), 3);

  copyFileSync(join(d, "backup.json"), file);
  assert.deepEqual(store.values("API_KEY"), ["new-key"], "the revoked key does not come back");
  assert.deepEqual(store.values("API_KEY"), ["new-key"]);
  assert.deepEqual(rollbacks, [[2, 3]], "reported once");
  assert.throws(() => store.set("OTHER", "x"), {
    code: "PAL_SECURITY_ROLLBACK",
    message: /generation 2.*generation 3/,
  });
  assert.throws(() => openFileSecretStore(file, ring, { floor: 3 }), {
    code: "PAL_SECURITY_ROLLBACK",
    message:
      /secrets\.json" is generation 2, but generation 3 was already written.*remove the file and set every secret again/,
  });

  // Starting over on purpose: without the file, the next write moves past every generation seen.
  rmSync(file);
  assert.deepEqual(store.values("API_KEY"), [], "a deleted store holds nothing");
  const fresh = openFileSecretStore(file, ring, { floor: 3 });
  fresh.set("API_KEY", "newest-key");
  assert.equal(fresh.generation(), 4);
  assert.deepEqual(store.values("API_KEY"), ["newest-key"]);
  assert.equal(openFileSecretStore(file, ring, { floor: 3 }).get("OTHER"), undefined);
});

test("a value copied from an older secrets.json, or an entry removed by hand, does not open", (t) => {
  const { ring, file } = setup(t);
  const store = openFileSecretStore(file, ring);
  store.set("API_KEY", "old-key");
  const older = JSON.parse(readFileSync(file, "utf8"));
  store.set("API_KEY", "new-key");
  store.set("OTHER", "other");
  const newer = JSON.parse(readFileSync(file, "utf8"));

  writeFileSync(
    file,
    JSON.stringify({ ...newer, secrets: { ...newer.secrets, API_KEY: older.secrets.API_KEY } }),
  );
  assert.throws(() => store.get("API_KEY"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  const { OTHER: _, ...withoutOther } = newer.secrets;
  writeFileSync(file, JSON.stringify({ ...newer, secrets: withoutOther }));
  assert.throws(() => store.get("API_KEY"), { code: "PAL_SECURITY_SEAL_BROKEN", message: /sealed head/ });
  writeFileSync(file, JSON.stringify({ ...newer, generation: 9 }));
  assert.throws(() => store.get("API_KEY"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  writeFileSync(file, JSON.stringify({ ...newer, secrets: { ...newer.secrets, OTHER: 42 } }));
  assert.throws(() => store.list(), {
    code: "PAL_SECURITY_SEAL_BROKEN",
    message: /entry "OTHER" is malformed/,
  });

  writeFileSync(file, JSON.stringify(newer));
  assert.equal(store.get("API_KEY"), "new-key", "the store works again once the file is whole");
});

test("a secrets.json of the first encrypted format is read and moves to generations on the next write", (t) => {
  const { ring, file } = setup(t);
  writeFileSync(file, JSON.stringify({ API_KEY: { value: ring.seal("the-key", "secret:API_KEY") } }));
  const store = openFileSecretStore(file, ring);
  assert.equal(store.get("API_KEY"), "the-key");
  assert.equal(store.generation(), 0);
  store.set("OTHER", "other");
  assert.equal(store.generation(), 1);
  assert.equal(JSON.parse(readFileSync(file, "utf8")).generation, 1);
  assert.equal(openFileSecretStore(file, ring).get("API_KEY"), "the-key");
});
