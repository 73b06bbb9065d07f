import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { localMasterKey, openKeyRing, SEAL_LIMIT, SECURITY_KEY_IN_USE } from "./index.ts";

function ringFiles(t: TestContext) {
  const d = mkdtempSync(join(tmpdir(), "palisade-keys-limits-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const master = localMasterKey(join(d, "master.key"), { create: true });
  return { d, file: join(d, "keyring.json"), master };
}

test("the automatic rotation threshold is well below GCM's 2^32 random-nonce limit", () => {
  assert.ok(SEAL_LIMIT <= 2 ** 30);
});

test("seals per data key are counted across restarts, and the ring rotates on its own at the limit", (t) => {
  const { file, master } = ringFiles(t);
  const first = openKeyRing(file, master, { sealLimit: 5 });
  const early = [1, 2, 3].map((i) => first.seal(`early ${i}`, `r${i}`));
  first.flush();

  // A restart: the count goes on from the file, not from zero.
  const rotated: number[] = [];
  const ring = openKeyRing(file, master, { sealLimit: 5, onAutoRotate: (v) => rotated.push(v) });
  assert.equal(ring.versions()[0]?.seals, 3);
  const fourth = ring.seal("4", "r4");
  const fifth = ring.seal("5", "r5");
  assert.deepEqual([ring.versionOf(fourth), ring.versionOf(fifth), ring.activeVersion()], [1, 1, 1]);
  const sixth = ring.seal("6", "r6");
  assert.equal(ring.versionOf(sixth), 2, "the sixth seal uses a new key");
  assert.deepEqual(rotated, [2]);
  assert.deepEqual(
    ring.versions().map((v) => [v.version, v.seals]),
    [
      [1, 5],
      [2, 1],
    ],
  );
  // Everything sealed before the rotation still opens.
  for (const [i, sealed] of early.entries()) assert.equal(ring.open(sealed, `r${i + 1}`), `early ${i + 1}`);
  assert.equal(ring.open(fifth, "r5"), "5");
  ring.flush();
  assert.equal(openKeyRing(file, master, { sealLimit: 5 }).versions()[1]?.seals, 1);
});

test("retire refuses a data key a running platform may still seal with, and allows it once it moved on", async (t) => {
  const { file, master } = ringFiles(t);
  const platform = openKeyRing(file, master);
  const lease = platform.holdLease(20);
  t.after(() => lease.close());
  const before = platform.seal("sealed with 1", "a");
  const cli = openKeyRing(file, master);
  assert.equal(cli.rotate(), 2);
  // The platform has not necessarily seen the rotation yet: its lease still names key 1.
  assert.throws(
    () => cli.retire(1),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, SECURITY_KEY_IN_USE);
      assert.match(err.message, new RegExp(`pid ${process.pid}`));
      return true;
    },
  );
  assert.equal(cli.versions()[0]?.retired, false);

  while (cli.sealingWith(1).length > 0) await new Promise((r) => setTimeout(r, 10));
  const after = platform.seal("sealed with 2", "b");
  assert.equal(platform.versionOf(after), 2, "the platform moved to the new key");
  assert.equal(platform.open(before, "a"), "sealed with 1");
  cli.retire(1);
  assert.equal(cli.versions()[0]?.retired, true);
  lease.close();
  assert.deepEqual(cli.sealingWith(2), [], "a closed lease is gone");
});

test("a lease left behind by a process that is gone does not block retire, and is removed", (t) => {
  const { d, file, master } = ringFiles(t);
  const ring = openKeyRing(file, master);
  ring.rotate();
  const gone = spawnSync(process.execPath, ["-e", ""]).pid;
  mkdirSync(join(d, "keyring.leases"));
  const stale = join(d, "keyring.leases", `${gone}-0badc0de.json`);
  writeFileSync(stale, JSON.stringify({ pid: gone, versions: [1], renewedAt: new Date().toISOString() }));
  ring.retire(1);
  assert.equal(existsSync(stale), false);
});

test("a lease that cannot be read blocks retire instead of letting it through", (t) => {
  const { d, file, master } = ringFiles(t);
  const ring = openKeyRing(file, master);
  ring.rotate();
  mkdirSync(join(d, "keyring.leases"));
  writeFileSync(join(d, "keyring.leases", `${process.pid}-0badc0de.json`), "{ torn");
  assert.throws(() => ring.retire(1), { code: SECURITY_KEY_IN_USE });
});

/** Node code run in a child process: waits for `go`, rotates the ring at `file` and seals one record. */
const ROTATE_AND_SEAL = `
import { existsSync } from "node:fs";
import { localMasterKey, openKeyRing } from ${JSON.stringify(new URL("./index.ts", import.meta.url).pathname)};
const [file, masterFile, go, record] = process.argv.slice(1);
const ring = openKeyRing(file, localMasterKey(masterFile, { create: false }));
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 1));
ring.rotate();
process.stdout.write(JSON.stringify([record, ring.seal(record, record)]));
`;

test("rings in several processes rotating at once never lose a version: every record sealed opens", async (t) => {
  const { d, file, master } = ringFiles(t);
  openKeyRing(file, master);
  const go = join(d, "go");
  const run = (record: string) =>
    new Promise<[string, string]>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ["--input-type=module", "-e", ROTATE_AND_SEAL, file, join(d, "master.key"), go, record],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk;
      });
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`))));
    });
  const runs = Array.from({ length: 8 }, (_, i) => run(`record ${i}`));
  await new Promise((r) => setTimeout(r, 500)); // every child has its ring open
  writeFileSync(go, "");
  const sealed = await Promise.all(runs);
  const ring = openKeyRing(file, master);
  for (const [record, text] of sealed) assert.equal(ring.open(text, record), record);
  assert.deepEqual(
    ring.versions().map((v) => v.version),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
    "each rotation added its own version",
  );
});

test("a key ring lock left by a process that is gone does not block rotation", (t) => {
  const { d, file, master } = ringFiles(t);
  const ring = openKeyRing(file, master);
  const gone = spawnSync(process.execPath, ["-e", ""]).pid;
  writeFileSync(join(d, "keyring.lock"), String(gone));
  assert.equal(ring.rotate(), 2);
  assert.equal(existsSync(join(d, "keyring.lock")), false, "released after the rotation");
});
