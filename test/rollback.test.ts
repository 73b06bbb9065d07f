/**
 * Rollback and deletion, tried against the real files: an older secrets.json put back after a key
 * was revoked is refused by a running gateway (which keeps the newer keys and audits it) and by start,
 * also when the secret records in audit.db were deleted or edited with its signed head left alone;
 * a deleted, cut back or older audit.db is found by audit verify and refused by start; a rollback of
 * the whole data directory is found only against an anchor kept elsewhere; checkpoints are signed
 * with keys/audit.key, and an app runs without keys/signing.key; a kv value put back to an older
 * ciphertext, or deleted, is found when the store opens.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { AUDIT_FILE, AUDIT_KIND, GENESIS_HASH, hashRecord, readAudit } from "../src/audit/index.ts";
import { openSqliteKvStore } from "../src/kv/index.ts";
import { openAppKeyRing, prepareApp, startPlatform } from "../src/main.ts";
import { keyIdOf, loadTrustedKeys } from "../src/supply/index.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
const NEW_KEY = "new-key-0123456789abcdef";

function app(t: Parameters<typeof tempApp>[0]): string {
  return tempApp(t, {
    "palisade.yaml": `name: rollback
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  noop:
    handler: functions/noop.ts
    on: [job.queued]
detect:
  credentialStuffing: { response: alert }   # the tests retry a revoked key from this address on purpose
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/noop.ts": "export default () => {};",
  });
}

test("an older secrets.json restored after a key was revoked: the gateway keeps refusing the key and audits it, and start refuses", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  const closed = { done: false };
  t.after(() => (closed.done ? undefined : platform.close()));
  const secretsFile = join(dir, ".palisade", "secrets.json");
  copyFileSync(secretsFile, join(dir, "secrets.backup.json"));

  const rotated = palisade("secrets", "rotate", "TEST_KEY", "--value", NEW_KEY, "--grace", "1", "--app", dir);
  assert.equal(rotated.status, 0, rotated.stderr);
  const status = (key: string) =>
    post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } }, "application/json", key).then(
      (r) => r.status,
    );
  while ((await status(TEST_KEY)) !== 401) await new Promise((r) => setTimeout(r, 250));

  copyFileSync(join(dir, "secrets.backup.json"), secretsFile);
  const audited = () => readAudit(join(dir, AUDIT_FILE), { kinds: [AUDIT_KIND.rollbackDetected] }).length > 0;
  while (!audited()) {
    assert.equal(await status(TEST_KEY), 401, "the revoked key stays revoked");
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(await status(TEST_KEY), 401);
  assert.equal(await status(NEW_KEY), 202, "the gateway keeps working with the newer keys");
  const [record] = readAudit(join(dir, AUDIT_FILE), { kinds: [AUDIT_KIND.rollbackDetected] });
  assert.deepEqual(record?.details, { found: 1, expected: 2 });
  assert.ok(logs.lines.some((l) => /older generation/.test(l.msg)));
  await platform.close();
  closed.done = true;

  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_SECURITY_ROLLBACK",
    message: /secrets\.json" is generation 1, but generation 2 was already written/,
  });
  const listed = palisade("secrets", "list", "--app", dir);
  assert.equal(listed.status, 1);
  assert.match(listed.stderr, /PAL_SECURITY_ROLLBACK|older copy was restored/);
  assert.doesNotMatch(listed.stderr, /\n\s+at /, "no stack trace");

  const write = palisade("secrets", "rm", "TEST_KEY", "--app", dir);
  assert.equal(write.status, 1, "no write over a rolled-back store");
  assert.match(write.stderr, /older copy was restored/);

  // The other fix the message names: remove the store and set every secret again.
  rmSync(secretsFile);
  const reset = palisade("secrets", "set", "TEST_KEY", "--value", NEW_KEY, "--app", dir);
  assert.equal(reset.status, 0, reset.stderr);
  const again = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => again.close());
  const post2 = (key: string) =>
    post(`${again.url}/events`, { type: "job.queued", data: { n: 1 } }, "application/json", key).then(
      (r) => r.status,
    );
  assert.equal(await post2(NEW_KEY), 202);
  assert.equal(await post2(TEST_KEY), 401);
});

/** Runs the app once, sending `n` requests with a wrong key (each an audit record), then closes it. */
async function run(dir: string, n: number): Promise<void> {
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  try {
    for (let i = 0; i < n; i++)
      await post(
        `${platform.url}/events`,
        { type: "job.queued", data: { n: i } },
        "application/json",
        "wrong",
      );
  } finally {
    await platform.close();
  }
}

test("a deleted, cut back or older audit.db is found by audit verify and refused by start", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  await run(dir, 2);
  const db = join(dir, AUDIT_FILE);
  copyFileSync(db, join(dir, "audit.older.db"));
  await run(dir, 3);
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0);

  copyFileSync(join(dir, "audit.older.db"), db);
  const older = palisade("audit", "verify", "--app", dir);
  assert.equal(older.status, 1, older.stdout);
  assert.match(
    older.stdout,
    /NOT intact.*the log ends at record \d+, but the signed head in .*audit-head\.json" vouches for record \d+/,
  );
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_AUDIT_ROLLED_BACK",
    message: /Restore the newest audit\.db, or, to accept the loss, remove .*audit-head\.json/,
  });

  rmSync(db);
  const deleted = palisade("audit", "verify", "--app", dir);
  assert.equal(deleted.status, 1, deleted.stdout + deleted.stderr);
  assert.match(
    deleted.stdout,
    /the audit log is missing, but the signed head .* vouches for record \d+: it was deleted/,
  );
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_AUDIT_ROLLED_BACK",
    message: /is missing/,
  });

  // Accepting the loss, as the message says: the app starts again with a new log.
  rmSync(join(dir, ".palisade", "audit-head.json"));
  await run(dir, 1);
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0);

  // Cutting back the tail with its checkpoints (which verify alone cannot see) is found too.
  await run(dir, 3);
  const cut = new DatabaseSync(db);
  cut.exec("DELETE FROM records WHERE seq > 2; DELETE FROM checkpoints WHERE upto_seq > 2;");
  cut.close();
  const truncated = palisade("audit", "verify", "--app", dir);
  assert.equal(truncated.status, 1, truncated.stdout);
  assert.match(truncated.stdout, /the log ends at record 2, but the signed head/);
});

/**
 * An app whose TEST_KEY was rotated (generation 2, audited) after generation 1 was copied aside,
 * and run again after, so the signed head vouches for a later record than the secret one.
 */
async function rotatedApp(t: Parameters<typeof tempApp>[0]): Promise<string> {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  await run(dir, 1);
  copyFileSync(join(dir, ".palisade", "secrets.json"), join(dir, "secrets.older.json"));
  const rotated = palisade("secrets", "rotate", "TEST_KEY", "--value", NEW_KEY, "--grace", "1", "--app", dir);
  assert.equal(rotated.status, 0, rotated.stderr);
  await run(dir, 1);
  const secretRecords = readAudit(join(dir, AUDIT_FILE), { kinds: [AUDIT_KIND.secretRotated] });
  assert.deepEqual(
    secretRecords.map((r) => r.details?.generation),
    [2],
  );
  copyFileSync(join(dir, AUDIT_FILE), join(dir, "audit.newest.db"));
  return dir;
}

/** Puts back the older secrets.json: start must refuse it, whatever was done to the audit log. */
function restoreOlderSecrets(dir: string): void {
  copyFileSync(join(dir, "secrets.older.json"), join(dir, ".palisade", "secrets.json"));
}

/** Runs `sql` on the app's audit.db as someone with write access to the file. */
function tamperAudit(dir: string, sql: string): void {
  const db = new DatabaseSync(join(dir, AUDIT_FILE));
  db.exec(sql);
  db.close();
}

/** With the newest audit.db back, start accepts only the newest secrets and serves the new key. */
async function recoversWithNewestFiles(t: Parameters<typeof tempApp>[0], dir: string): Promise<void> {
  copyFileSync(join(dir, "audit.newest.db"), join(dir, AUDIT_FILE));
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_SECURITY_ROLLBACK",
  });
  const reset = palisade("secrets", "set", "TEST_KEY", "--value", NEW_KEY, "--app", dir);
  assert.equal(reset.status, 1, "no write over the older store either");
  rmSync(join(dir, ".palisade", "secrets.json"));
  assert.equal(palisade("secrets", "set", "TEST_KEY", "--value", NEW_KEY, "--app", dir).status, 0);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const status = (key: string) =>
    post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } }, "application/json", key).then(
      (r) => r.status,
    );
  assert.equal(await status(NEW_KEY), 202);
  assert.equal(await status(TEST_KEY), 401, "the revoked key stays revoked");
}

test("secret records deleted from audit.db with its head intact cannot lower the floor: an older secrets.json is still refused", async (t) => {
  const dir = await rotatedApp(t);
  tamperAudit(dir, "DELETE FROM records WHERE kind LIKE 'secret.%'");
  restoreOlderSecrets(dir);

  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_AUDIT_TAMPERED",
    message:
      /audit log ".*audit\.db" was changed outside palisade at record \d+: record \d+ is missing.*Restore the newest intact audit\.db/,
  });
  const listed = palisade("secrets", "list", "--app", dir);
  assert.equal(listed.status, 1, "the CLI refuses too");
  assert.match(listed.stderr, /was changed outside palisade/);
  assert.doesNotMatch(listed.stderr, /\n\s+at /, "no stack trace");
  await recoversWithNewestFiles(t, dir);
});

test("a secret record's body edited in audit.db, with or without its hashes recomputed, is refused at start", async (t) => {
  const dir = await rotatedApp(t);
  restoreOlderSecrets(dir);
  tamperAudit(
    dir,
    `UPDATE records SET body = replace(body, '"generation":2', '"generation":1') WHERE kind LIKE 'secret.%'`,
  );
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_AUDIT_TAMPERED",
    message: /was changed outside palisade at record \d+: record \d+ was changed/,
  });

  // Recomputing every hash from the edited record on does not help: the signed head no longer matches.
  const db = new DatabaseSync(join(dir, AUDIT_FILE));
  let prev = GENESIS_HASH;
  for (const r of db.prepare("SELECT seq, at, kind, body FROM records ORDER BY seq").all()) {
    const hash = hashRecord(Number(r.seq), Number(r.at), String(r.kind), String(r.body), prev);
    db.prepare("UPDATE records SET prev_hash = ?, hash = ? WHERE seq = ?").run(prev, hash, Number(r.seq));
    prev = hash;
  }
  db.close();
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_AUDIT_ROLLED_BACK",
    message: /is not the one the signed head in .*audit-head\.json" vouches for/,
  });
  await recoversWithNewestFiles(t, dir);
});

test("a rollback of the whole data directory passes audit verify but not audit verify --anchor", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  await run(dir, 2);
  cpSync(join(dir, ".palisade"), join(dir, "backup"), { recursive: true });
  await run(dir, 2);
  const anchored = palisade("audit", "anchor", "--app", dir);
  assert.equal(anchored.status, 0, anchored.stderr);
  const anchor = JSON.parse(anchored.stdout);
  assert.equal(anchor.format, "palisade.audit.anchor.v1");
  assert.equal(anchor.seq, readAudit(join(dir, AUDIT_FILE)).length, "the anchor covers every record");
  const anchorFile = join(dir, "anchor.json");
  writeFileSync(anchorFile, anchored.stdout);
  assert.equal(palisade("audit", "verify", "--anchor", anchorFile, "--app", dir).status, 0);

  rmSync(join(dir, ".palisade"), { recursive: true });
  cpSync(join(dir, "backup"), join(dir, ".palisade"), { recursive: true });
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0, "the limit: nothing in the app shows it");
  const caught = palisade("audit", "verify", "--anchor", anchorFile, "--app", dir);
  assert.equal(caught.status, 1, caught.stdout);
  assert.match(
    caught.stdout,
    new RegExp(`signed head in --anchor ".*anchor\\.json" vouches for record ${anchor.seq}`),
  );

  // A forged or malformed anchor is refused with a message, never a stack trace.
  writeFileSync(anchorFile, JSON.stringify({ ...anchor, seq: 1 }));
  const forged = palisade("audit", "verify", "--anchor", anchorFile, "--app", dir);
  assert.equal(forged.status, 1);
  assert.match(forged.stdout, /anchor at record 1 is forged/);
  writeFileSync(anchorFile, "{not json");
  const malformed = palisade("audit", "verify", "--anchor", anchorFile, "--app", dir);
  assert.notEqual(malformed.status, 0);
  assert.match(
    malformed.stderr,
    /Cannot use the audit anchor ".*anchor\.json": it is not JSON; it must hold what palisade audit anchor prints/,
  );
  assert.doesNotMatch(malformed.stderr, /\n\s+at /);
  const absent = palisade("audit", "verify", "--anchor", join(dir, "none.json"), "--app", dir);
  assert.equal(absent.status, 2);
  assert.match(absent.stderr, /Cannot read --anchor/);
});

test("audit checkpoints are signed with keys/audit.key, and an app runs without keys/signing.key", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const prepared = await prepareApp(dir); // dev: builds and signs the bundles with keys/signing.key
  rmSync(join(dir, "keys", "signing.key"));
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }, prepared);
  assert.equal(
    (await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } })).status,
    202,
    "the platform serves without the bundle-signing key",
  );
  await platform.close();

  const auditPub = readFileSync(auditPubFiles(dir)[0] ?? "", "utf8");
  const checkpoints = new DatabaseSync(join(dir, AUDIT_FILE), { readOnly: true });
  const keyids = checkpoints
    .prepare("SELECT DISTINCT keyid FROM checkpoints")
    .all()
    .map((r) => r.keyid);
  checkpoints.close();
  assert.deepEqual(keyids, [keyIdOf(auditPub)]);
  assert.ok(!loadTrustedKeys(dir).includes(auditPub), "the audit key is not trusted to sign bundles");
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0);
  rmSync(join(dir, "keys", "audit"), { recursive: true });
  const untrusted = palisade("audit", "verify", "--app", dir);
  assert.equal(untrusted.status, 1, "verify checks against the audit public key");
  assert.match(untrusted.stdout, /not a trusted key \(keys\/audit\/\*\.pub, keys\/\*\.pub\)/);
});

/** The audit public keys an app trusts, as paths, in name order. */
function auditPubFiles(dir: string): string[] {
  return readdirSync(join(dir, "keys", "audit"))
    .sort()
    .map((name) => join(dir, "keys", "audit", name));
}

test("start refuses an app whose audit log is signed but whose keys/audit.key is missing; dev makes a new key beside the old public one", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  await run(dir, 1); // dev: makes keys/audit.key
  // An app made before keys were named by their id kept its public half as keys/audit/audit.pub.
  const [first] = auditPubFiles(dir);
  const legacyPub = join(dir, "keys", "audit", "audit.pub");
  renameSync(first ?? "", legacyPub);
  const oldPub = readFileSync(legacyPub, "utf8");
  rmSync(join(dir, "keys", "audit.key")); // deleted, or never copied by a fresh deploy (gitignored)

  const refusal = {
    code: "PAL_AUDIT_KEY_MISSING",
    message:
      /audit log ".*audit\.db" has checkpoints signed with the audit key ".*keys\/audit\.key", which is missing\. Restore .*, pass --new-audit-key once/,
  };
  await assert.rejects(
    startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0, createKeys: false }),
    refusal,
  );
  assert.equal(palisade("build", dir).status, 0);
  const started = palisade("start", dir, "--port", "0");
  assert.equal(started.status, 1, started.stderr);
  assert.match(started.stderr, /keys\/audit\.key", which is missing\. Restore/);
  assert.doesNotMatch(started.stderr, /\n\s+at /, "no stack trace");
  assert.ok(!existsSync(join(dir, "keys", "audit.key")), "start made no key");
  assert.deepEqual(auditPubFiles(dir), [legacyPub]);

  await run(dir, 1); // dev makes a new key, and keeps trusting the old one
  const pubs = auditPubFiles(dir);
  assert.equal(pubs.length, 2);
  assert.equal(readFileSync(legacyPub, "utf8"), oldPub, "the old public key is not overwritten");
  const newPub = readFileSync(pubs.find((p) => p !== legacyPub) ?? "", "utf8");
  const db = new DatabaseSync(join(dir, AUDIT_FILE), { readOnly: true });
  const keyids = db
    .prepare("SELECT keyid FROM checkpoints ORDER BY upto_seq")
    .all()
    .map((r) => r.keyid);
  db.close();
  assert.deepEqual(new Set(keyids), new Set([keyIdOf(oldPub), keyIdOf(newPub)]));
  const verified = palisade("audit", "verify", "--app", dir);
  assert.equal(verified.status, 0, "checkpoints of both keys verify");
  assert.match(verified.stdout, /audit log intact/);

  // Once the key is there again, start runs; --new-audit-key is the deliberate way past a lost one.
  await run(dir, 0);
  rmSync(join(dir, "keys", "audit.key"));
  const platform = await startPlatform({
    appDir: dir,
    logger: captureLogs().logger,
    port: 0,
    createKeys: false,
    createAuditKey: true,
  });
  await platform.close();
  assert.equal(auditPubFiles(dir).length, 3);
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0);
});

/** The app's kv store with its key ring, closed after the test. */
function kvOf(t: Parameters<typeof tempApp>[0], dir: string) {
  const kv = openSqliteKvStore(join(dir, ".palisade", "kv.db"), openAppKeyRing(dir));
  t.after(() => kv.close());
  return kv;
}

/** Runs `sql` on the app's kv.db as someone with write access to the file. */
function tamper(dir: string, sql: string, ...params: string[]): void {
  const db = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  db.prepare(sql).run(...params);
  db.close();
}

test("a kv value put back to an older ciphertext, or a deleted one, is found when the store opens", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const kv = kvOf(t, dir);
  await kv.set("limits", "alice", { credit: 0 });
  const db = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  const older = db.prepare("SELECT value, version FROM kv WHERE key = 'alice'").get();
  db.close();
  await kv.set("limits", "alice", { credit: 0, blocked: true });
  await kv.set("limits", "bob", { credit: 5 });
  await kv.close();

  // The older ciphertext under the current version does not open at all.
  tamper(dir, "UPDATE kv SET value = ? WHERE key = 'alice'", String(older?.value));
  await assert.rejects(kvOf(t, dir).get("limits", "alice"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  // With its older version too, it opens, but no longer matches the sealed digest.
  tamper(dir, "UPDATE kv SET version = ? WHERE key = 'alice'", String(older?.version));
  assert.throws(() => kvOf(t, dir), {
    code: "PAL_KV_ROLLED_BACK",
    message: /kv store ".*kv\.db" was changed outside palisade.*Restore the newest copy/,
  });
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_KV_ROLLED_BACK",
  });

  tamper(dir, "DELETE FROM kv WHERE key = 'alice'");
  assert.throws(() => kvOf(t, dir), { code: "PAL_KV_ROLLED_BACK" }, "a deleted value is found");
  tamper(dir, "DELETE FROM kv_meta");
  assert.throws(() => kvOf(t, dir), { code: "PAL_KV_ROLLED_BACK" }, "so is a deleted digest");
});

test("a kv value deleted and set again cannot be replaced by the one before the delete", async (t) => {
  const dir = app(t);
  const kv = kvOf(t, dir);
  await kv.set("sessions", "s1", { user: "alice", admin: true });
  const db = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  const older = db.prepare("SELECT value, version FROM kv WHERE key = 's1'").get();
  db.close();
  assert.equal(await kv.delete("sessions", "s1"), true);
  assert.equal(await kv.delete("sessions", "s1"), false);
  await kv.set("sessions", "s1", { user: "alice", admin: false });
  await kv.close();
  const reopened = kvOf(t, dir);
  assert.deepEqual(await reopened.get("sessions", "s1"), { user: "alice", admin: false });
  await reopened.close();

  tamper(
    dir,
    "UPDATE kv SET value = ?, version = ? WHERE key = 's1'",
    String(older?.value),
    String(older?.version),
  );
  assert.throws(() => kvOf(t, dir), { code: "PAL_KV_ROLLED_BACK" });
});

test("a kv store from before versions opens, keeps its values and gets a digest", async (t) => {
  const dir = app(t);
  const ring = openAppKeyRing(dir);
  mkdirSync(join(dir, ".palisade"), { recursive: true });
  const db = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  db.exec(`CREATE TABLE kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    updated_at INTEGER NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID`);
  db.prepare("INSERT INTO kv VALUES ('notes', 'n1', ?, 0)").run(ring.seal('"kept"', "kv:notes\0n1"));
  db.close();
  const kv = kvOf(t, dir);
  assert.equal(await kv.get("notes", "n1"), "kept");
  await kv.set("notes", "n2", "new");
  await kv.close();
  const again = kvOf(t, dir);
  assert.equal(await again.get("notes", "n1"), "kept");
  assert.equal(await again.get("notes", "n2"), "new");
  await again.close();
  tamper(dir, "DELETE FROM kv WHERE key = 'n1'");
  assert.throws(() => kvOf(t, dir), { code: "PAL_KV_ROLLED_BACK" });
});
