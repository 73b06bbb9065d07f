import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, type TestContext, test } from "node:test";
import { keyIdOf } from "../supply/index.ts";
import { checkpointMessage, hashRecord, openAuditLog, type VerifyResult, verifyAuditLog } from "./index.ts";

function keyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

const APP_KEY = keyPair();
const OTHER_KEY = keyPair();
const TRUSTED = [APP_KEY.publicPem];
let dir = "";
let pristine = "";

// One log of 5000 records written in 20 batches, with a checkpoint every 1000; each test tampers
// with its own copy.
before(() => {
  dir = mkdtempSync(join(tmpdir(), "palisade-audit-verify-"));
  pristine = join(dir, "pristine.db");
  const log = openAuditLog(pristine, { signingKeyPem: APP_KEY.privatePem, checkpointEvery: 1000 });
  for (let i = 1; i <= 5000; i++) {
    log.record({
      kind: i % 2 === 0 ? "ingress.rejected" : "capability.denied",
      actor: `principal-${i % 7}`,
      outcome: "denied",
      details: { i, reason: "unauthenticated", address: "203.0.113.9" },
    });
    if (i % 250 === 0) log.flush();
  }
  log.close();
  assert.equal(log.stats.commits, 20);
});
after(() => rmSync(dir, { recursive: true, force: true }));

let copies = 0;
function tampered(change: (db: DatabaseSync) => void): string {
  const file = join(dir, `copy-${++copies}.db`);
  copyFileSync(pristine, file);
  const db = new DatabaseSync(file);
  db.exec("BEGIN");
  change(db);
  db.exec("COMMIT");
  db.close();
  return file;
}

function row(db: DatabaseSync, seq: number): { at: number; kind: string; body: string; prev_hash: string } {
  const r = db.prepare("SELECT at, kind, body, prev_hash FROM records WHERE seq = ?").get(seq);
  assert.ok(r, `record ${seq} exists`);
  return { at: Number(r.at), kind: String(r.kind), body: String(r.body), prev_hash: String(r.prev_hash) };
}

function assertBroken(result: VerifyResult, firstBad: number | null, problem: RegExp): void {
  assert.equal(result.ok, false, "verify must report the tampering");
  if (result.ok) return;
  assert.equal(result.firstBad, firstBad, result.problem);
  assert.match(result.problem, problem);
}

test("an untouched log of 5000 records and 5 checkpoints verifies", () => {
  assert.deepEqual(verifyAuditLog(pristine, TRUSTED), {
    ok: true,
    records: 5000,
    checkpoints: 5,
    unsigned: 0,
  });
});

test("flipping one byte of one record's body is found at that record", () => {
  const file = tampered((db) => {
    const body = Buffer.from(row(db, 1234).body, "utf8");
    body[10] = (body[10] ?? 0) ^ 0x01;
    db.prepare("UPDATE records SET body = ? WHERE seq = 1234").run(body.toString("utf8"));
  });
  assertBroken(verifyAuditLog(file, TRUSTED), 1234, /^record 1234 was changed/);
});

test("changing a record's time or kind is found at that record", () => {
  const time = tampered((db) => db.exec("UPDATE records SET at = at - 3600000 WHERE seq = 77"));
  assertBroken(verifyAuditLog(time, TRUSTED), 77, /^record 77 was changed/);
  const kind = tampered((db) => db.exec("UPDATE records SET kind = 'app.started' WHERE seq = 4999"));
  assertBroken(verifyAuditLog(kind, TRUSTED), 4999, /^record 4999 was changed/);
});

test("deleting a record is found where it was: in the middle, the first, one a checkpoint names", () => {
  const middle = tampered((db) => db.exec("DELETE FROM records WHERE seq = 2500"));
  assertBroken(
    verifyAuditLog(middle, TRUSTED),
    2500,
    /^record 2500 is missing: record 2499 is followed by record 2501/,
  );
  const first = tampered((db) => db.exec("DELETE FROM records WHERE seq = 1"));
  assertBroken(verifyAuditLog(first, TRUSTED), 1, /^record 1 is missing: the log starts at record 2/);
  const checkpointed = tampered((db) => db.exec("DELETE FROM records WHERE seq = 3000"));
  assertBroken(verifyAuditLog(checkpointed, TRUSTED), 3000, /^record 3000 is missing/);
});

test("swapping two records is found at the earlier one", () => {
  const bodies = tampered((db) => {
    const a = row(db, 3000).body;
    const b = row(db, 3001).body;
    db.prepare("UPDATE records SET body = ? WHERE seq = ?").run(b, 3000);
    db.prepare("UPDATE records SET body = ? WHERE seq = ?").run(a, 3001);
  });
  assertBroken(verifyAuditLog(bodies, TRUSTED), 3000, /^record 3000 was changed/);

  // Whole rows change places, each keeping its own hash and prev_hash.
  const seqs = tampered((db) => {
    db.exec("UPDATE records SET seq = -1 WHERE seq = 777");
    db.exec("UPDATE records SET seq = 777 WHERE seq = 900");
    db.exec("UPDATE records SET seq = 900 WHERE seq = -1");
  });
  assertBroken(verifyAuditLog(seqs, TRUSTED), 777, /^record 777 was changed/);
});

test("cutting off the tail that a checkpoint covers is found as truncation", () => {
  const many = tampered((db) => db.exec("DELETE FROM records WHERE seq > 4200"));
  assertBroken(
    verifyAuditLog(many, TRUSTED),
    4201,
    /^the log was truncated after record 4200: a signed checkpoint vouches for record 5000/,
  );
  const last = tampered((db) => db.exec("DELETE FROM records WHERE seq = 5000"));
  assertBroken(verifyAuditLog(last, TRUSTED), 5000, /^the log was truncated after record 4999/);
});

test("a checkpoint re-signed with an untrusted key, or with its hash altered, is found as forged", () => {
  const untrusted = tampered((db) => {
    const cp = db.prepare("SELECT hash, at FROM checkpoints WHERE upto_seq = 3000").get();
    const signature = sign(
      null,
      checkpointMessage(3000, String(cp?.hash), Number(cp?.at)),
      OTHER_KEY.privatePem,
    );
    db.prepare("UPDATE checkpoints SET keyid = ?, signature = ? WHERE upto_seq = 3000").run(
      keyIdOf(OTHER_KEY.publicPem),
      signature.toString("base64"),
    );
  });
  assertBroken(verifyAuditLog(untrusted, TRUSTED), 3000, /checkpoint at record 3000 .* not a trusted key/);

  // Claims the trusted key's id, but the signature is another key's.
  const impostor = tampered((db) => {
    const cp = db.prepare("SELECT hash, at FROM checkpoints WHERE upto_seq = 4000").get();
    const signature = sign(
      null,
      checkpointMessage(4000, String(cp?.hash), Number(cp?.at)),
      OTHER_KEY.privatePem,
    );
    db.prepare("UPDATE checkpoints SET signature = ? WHERE upto_seq = 4000").run(
      signature.toString("base64"),
    );
  });
  assertBroken(verifyAuditLog(impostor, TRUSTED), 4000, /^the checkpoint at record 4000 is forged/);

  const altered = tampered((db) => {
    db.exec(
      "UPDATE checkpoints SET hash = (SELECT hash FROM records WHERE seq = 1999) WHERE upto_seq = 2000",
    );
  });
  assertBroken(verifyAuditLog(altered, TRUSTED), 2000, /^the checkpoint at record 2000 is forged/);

  // The same log, checked against keys that do not include the app's.
  assertBroken(verifyAuditLog(pristine, [OTHER_KEY.publicPem]), 1000, /not a trusted key/);
});

test("a change with every later hash recomputed is caught by the next signed checkpoint", () => {
  const file = tampered((db) => {
    const update = db.prepare("UPDATE records SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?");
    const rows = db.prepare(
      "SELECT seq, at, kind, body, prev_hash FROM records WHERE seq >= 1500 ORDER BY seq",
    );
    let prev = String(db.prepare("SELECT prev_hash FROM records WHERE seq = 1500").get()?.prev_hash);
    for (const r of rows.all()) {
      const seq = Number(r.seq);
      const body = seq === 1500 ? String(r.body).replace('"denied"', '"allowed"') : String(r.body);
      const hash = hashRecord(seq, Number(r.at), String(r.kind), body, prev);
      update.run(body, prev, hash, seq);
      prev = hash;
    }
  });
  assertBroken(
    verifyAuditLog(file, TRUSTED),
    1001,
    /^records 1001 to 2000 were rewritten: record 2000 no longer has the hash its signed checkpoint vouches for/,
  );
});

test("a change with only its own hash recomputed breaks the link to the next record", () => {
  const file = tampered((db) => {
    const r = row(db, 1500);
    const body = r.body.replace('"denied"', '"allowed"');
    db.prepare("UPDATE records SET body = ?, hash = ? WHERE seq = 1500").run(
      body,
      hashRecord(1500, r.at, r.kind, body, r.prev_hash),
    );
  });
  assertBroken(verifyAuditLog(file, TRUSTED), 1500, /^record 1501 does not follow record 1500/);

  // Record 2001 made to follow record 1999 (as if 2000 were removed and the rest renumbered, hashes
  // recomputed): the checkpoint at 2000 vouches for 2000, so 2001 is the first bad record.
  const renumbered = tampered((db) => {
    const r = row(db, 2001);
    const prev = db.prepare("SELECT hash FROM records WHERE seq = 1999").get()?.hash;
    db.prepare("UPDATE records SET prev_hash = ?, hash = ? WHERE seq = 2001").run(
      String(prev),
      hashRecord(2001, r.at, r.kind, r.body, String(prev)),
    );
  });
  assertBroken(verifyAuditLog(renumbered, TRUSTED), 2001, /^record 2001 does not follow record 2000/);
});

test("what verify cannot see: records after the last checkpoint cut off with it", (t: TestContext) => {
  // Documented limit: once the covering checkpoint is deleted too, a shorter log is still a valid
  // log. Frequent checkpoints and exported copies are the defence.
  const file = tampered((db) => {
    db.exec("DELETE FROM records WHERE seq > 4200");
    db.exec("DELETE FROM checkpoints WHERE upto_seq > 4200");
  });
  t.diagnostic("a cut at 4200 with checkpoint 5000 removed verifies as intact");
  assert.deepEqual(verifyAuditLog(file, TRUSTED), { ok: true, records: 4200, checkpoints: 4, unsigned: 200 });
});
