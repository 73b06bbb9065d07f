/**
 * Encryption at rest, tried against the real files: after events, dead letters, kv writes and
 * secrets, no store file holds a known marker in plaintext; a ciphertext moved to another record
 * does not open; `palisade keys rotate` re-encrypts everything, survives SIGKILL half-way, and an
 * old key can be retired only once nothing uses it.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { createEvent } from "../src/events/index.ts";
import { openSqliteKvStore } from "../src/kv/index.ts";
import { openAppKeyRing, openAppSecrets, openAppStore, startPlatform } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const MARKER = "MARKER-7f3a9c-plaintext-must-not-be-stored";

const SCHEMA = {
  type: "object",
  required: ["note"],
  additionalProperties: false,
  properties: { note: { type: "string", maxLength: 200 } },
};

function app(t: Parameters<typeof tempApp>[0]): string {
  return tempApp(t, {
    "palisade.yaml": `name: sealed
events:
  note.saved: { schema: schemas/note.json }
${testPrincipal(["note.saved"])}functions:
  keep:
    handler: functions/keep.ts
    on: [note.saved]
    kv: { notes: readwrite }
    secrets: [NOTE_TOKEN]
  fail:
    handler: functions/fail.ts
    on: [note.saved]
    retry: { attempts: 1 }
`,
    "schemas/note.json": SCHEMA,
    "functions/keep.ts":
      "export default async (e, ctx) => { await ctx.secrets.get('NOTE_TOKEN'); await ctx.kv.set('notes', e.id, { note: e.data.note }); };",
    "functions/fail.ts": "export default (e) => { throw new Error('cannot file ' + e.data.note); };",
  });
}

/** Every byte of every file the app keeps in .palisade/ (WAL files included). */
function storeBytes(dir: string): string {
  const data = join(dir, ".palisade");
  return readdirSync(data, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => readFileSync(join(f.parentPath, f.name)).toString("latin1"))
    .join("\n");
}

test("no store file holds plaintext of events, dead letters, kv values or secrets", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "NOTE_TOKEN", `token-${MARKER}`);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const sent = await post(`${platform.url}/events`, { type: "note.saved", data: { note: MARKER } });
  assert.equal(sent.status, 202);
  const id = sent.body.ids[0];
  await logs.waitFor((l) => l.msg === "delivered" && l.eventId === id && l.fn === "keep");
  await logs.waitFor((l) => l.msg === "delivery failed" && l.eventId === id && l.fn === "fail");
  // What the platform reads back is intact.
  const [dead] = await platform.store.queue.deadLetters(10);
  assert.equal(dead?.error?.split("\n")[0], `cannot file ${MARKER}`); // then the function's stack
  const [first] = await platform.store.events.read(0, 10);
  assert.deepEqual(first?.event.data, { note: MARKER });
  await platform.close();

  const bytes = storeBytes(dir);
  assert.ok(bytes.length > 10_000, "the stores were read");
  assert.ok(!bytes.includes("MARKER-7f3a9c"), "a store file holds the marker in plaintext");
  const kv = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  t.after(() => kv.close());
  assert.match(String(kv.prepare("SELECT value FROM kv").get()?.value), /^pal1\.1\./);
});

test("a ciphertext moved to another record does not decrypt", async (t) => {
  const dir = app(t);
  const ring = openAppKeyRing(dir);
  const log = await openAppStore(loadApp(dir));
  const origin = { principal: "p", source: "/test", hop: 0 };
  await log.events.append([
    createEvent({ type: "note.saved", data: { note: "for alice" }, id: "a" }, origin),
    createEvent({ type: "note.saved", data: { note: "for bob" }, id: "b" }, origin),
  ]);
  await log.close();
  const kv = openSqliteKvStore(join(dir, ".palisade", "kv.db"), ring);
  await kv.set("notes", "alice", "alice's");
  await kv.set("notes", "bob", "bob's");
  await kv.close();
  const secrets = openAppSecrets(dir, ring);
  secrets.set("ALICE", "alice-secret");
  secrets.set("BOB", "bob-secret");

  // Swap ciphertexts between records, as someone with write access to the files could.
  const events = new DatabaseSync(join(dir, ".palisade", "events.db"));
  const bodyA = events.prepare("SELECT body FROM events WHERE id = 'a'").get()?.body;
  events.prepare("UPDATE events SET body = ? WHERE id = 'b'").run(String(bodyA));
  events.close();
  const kvDb = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  const valueA = kvDb.prepare("SELECT value FROM kv WHERE key = 'alice'").get()?.value;
  kvDb.prepare("UPDATE kv SET value = ? WHERE key = 'bob'").run(String(valueA));
  kvDb.close();
  const file = join(dir, ".palisade", "secrets.json");
  const raw = JSON.parse(readFileSync(file, "utf8"));
  raw.secrets.BOB = raw.secrets.ALICE;
  (await import("node:fs")).writeFileSync(file, JSON.stringify(raw));

  const again = await openAppStore(loadApp(dir));
  t.after(() => again.close());
  // The moved body is left out (and reported), never read as bob's event.
  const skipped: string[] = [];
  const read = await again.events.read(0, 10, (_seq, error) => skipped.push(error));
  assert.deepEqual(
    read.map((s) => s.event.id),
    ["a"],
  );
  assert.match(skipped.join("\n"), /Cannot read event "b" \(seq \d+\): its sealed body does not open/);
  const kvAgain = openSqliteKvStore(join(dir, ".palisade", "kv.db"), ring);
  t.after(() => kvAgain.close());
  assert.equal(await kvAgain.get("notes", "alice"), "alice's");
  await assert.rejects(kvAgain.get("notes", "bob"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  assert.equal(secrets.get("ALICE"), "alice-secret");
  assert.throws(() => secrets.get("BOB"), { code: "PAL_SECURITY_SEAL_BROKEN" });
});

test("keys rotate re-encrypts everything, survives SIGKILL half-way, and retire waits for it", async (t) => {
  const dir = app(t);
  const ring = openAppKeyRing(dir);
  const log = await openAppStore(loadApp(dir));
  const origin = { principal: "p", source: "/test", hop: 0 };
  const total = 20_000;
  for (let b = 0; b < total / 1000; b++) {
    await log.events.append(
      Array.from({ length: 1000 }, (_, i) =>
        createEvent(
          { type: "note.saved", data: { note: `n${b * 1000 + i}` }, id: `e${b * 1000 + i}` },
          origin,
        ),
      ),
    );
  }
  await log.close();
  const kv = openSqliteKvStore(join(dir, ".palisade", "kv.db"), ring);
  for (let i = 0; i < 50; i++) await kv.set("notes", `k${i}`, { i });
  await kv.close();
  openAppSecrets(dir, ring).set("NOTE_TOKEN", "the-token");

  // Kill the rotation once it has moved some records but not all, as its progress line says: drawn
  // only on a terminal, so it runs on one (util-linux script), and the kill goes to palisade itself.
  const child = spawn(
    "script",
    ["-qec", `exec '${process.execPath}' '${BIN}' keys rotate --app '${dir}'`, "/dev/null"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  let killed = false;
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      stderr += d.toString();
      const moved = [...stderr.matchAll(/(\d+)\/(\d+)/g)].map((m) => Number(m[1]));
      if (!killed && moved.some((n) => n > 0 && n < total)) {
        killed = true;
        const pid = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim();
        if (pid !== "") process.kill(Number(pid), "SIGKILL");
        resolve();
      }
    });
    child.on("exit", () => resolve());
  });
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once("exit", r));

  const status = () => {
    const r = spawnSync(process.execPath, [BIN, "keys", "status", "--app", dir, "--json"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      active: number;
      versions: { version: number; records: Record<string, number> }[];
    };
  };
  const half = status();
  assert.equal(half.active, 2, "the new key was active before the kill");
  const onOld = (s: ReturnType<typeof status>) =>
    Object.values(s.versions.find((v) => v.version === 1)?.records ?? {}).reduce((a, b) => a + b, 0);
  assert.ok(onOld(half) > 0, "the kill came before the end");
  assert.ok(onOld(half) < total + 51, "the kill came after some records moved");

  const retireEarly = spawnSync(process.execPath, [BIN, "keys", "retire", "1", "--app", dir], {
    encoding: "utf8",
  });
  assert.equal(retireEarly.status, 1);
  assert.match(retireEarly.stderr, /still seals/);

  const resumed = spawnSync(process.execPath, [BIN, "keys", "rotate", "--resume", "--app", dir], {
    encoding: "utf8",
  });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(onOld(status()), 0, "nothing left on the old key");

  const retired = spawnSync(process.execPath, [BIN, "keys", "retire", "1", "--app", dir], {
    encoding: "utf8",
  });
  assert.equal(retired.status, 0, retired.stderr);

  // Nothing lost: every record opens with the key ring that no longer has version 1.
  const after = await openAppStore(loadApp(dir));
  t.after(() => after.close());
  const stored = await after.events.read(0, total + 10);
  assert.equal(stored.length, total);
  assert.ok(stored.every((s, i) => (s.event.data as { note: string }).note === `n${i}`));
  const kvAfter = openSqliteKvStore(join(dir, ".palisade", "kv.db"), openAppKeyRing(dir));
  t.after(() => kvAfter.close());
  assert.deepEqual(await kvAfter.get("notes", "k49"), { i: 49 });
  assert.equal(openAppSecrets(dir).get("NOTE_TOKEN"), "the-token");
});

test("secrets rotate keeps the previous value valid for the grace period, for API keys too", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", "old-key-0123456789abcdef");
  const rotate = spawnSync(
    process.execPath,
    [BIN, "secrets", "rotate", "TEST_KEY", "--value", TEST_KEY, "--grace", "3600", "--app", dir],
    { encoding: "utf8" },
  );
  assert.equal(rotate.status, 0, rotate.stderr);
  assert.match(rotate.stdout, /previous value stays valid until/);
  assert.deepEqual(openAppSecrets(dir).values("TEST_KEY"), [TEST_KEY, "old-key-0123456789abcdef"]);
  const listed = spawnSync(process.execPath, [BIN, "secrets", "list", "--app", dir], { encoding: "utf8" });
  assert.match(listed.stdout, /TEST_KEY {2}\(rotating: previous value valid until /);
  assert.doesNotMatch(listed.stdout, /old-key|test-key/);

  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const body = { type: "note.saved", data: { note: "x" } };
  assert.equal((await post(`${platform.url}/events`, body, "application/json", TEST_KEY)).status, 202);
  assert.equal(
    (await post(`${platform.url}/events`, body, "application/json", "old-key-0123456789abcdef")).status,
    202,
  );
  assert.equal(
    (await post(`${platform.url}/events`, body, "application/json", "another-key-0123456789")).status,
    401,
  );

  // Past the grace period only the new value is valid, in the running gateway too (within seconds).
  openAppSecrets(dir).rotate("TEST_KEY", "newest-key-0123456789abcdef", 0);
  assert.deepEqual(openAppSecrets(dir).values("TEST_KEY"), ["newest-key-0123456789abcdef"]);
  const status = (key: string) =>
    post(`${platform.url}/events`, body, "application/json", key).then((r) => r.status);
  while ((await status(TEST_KEY)) !== 401) await new Promise((r) => setTimeout(r, 250));
  assert.equal(await status("newest-key-0123456789abcdef"), 202);
  assert.equal(await status("old-key-0123456789abcdef"), 401);
});
