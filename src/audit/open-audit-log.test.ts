import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  AUDIT_BAD_ENTRY,
  AUDIT_BAD_KEY,
  AUDIT_NOT_FOUND,
  canonicalJson,
  hashRecord,
  openAuditLog,
  readAudit,
  verifyAuditLog,
} from "./index.ts";

function keyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

function tempFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-audit-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, ".palisade", "audit.db");
}

const KEYS = keyPair();

test("record returns before anything is written, and records queued together share one commit", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const file = tempFile(t);
  const log = openAuditLog(file, { signingKeyPem: KEYS.privatePem, flushMs: 5 });
  t.after(() => log.close());

  for (let i = 0; i < 500; i++) log.record({ kind: "ingress.rejected", outcome: "denied", details: { i } });
  assert.deepEqual(log.stats, { commits: 0, records: 0, checkpoints: 0, dropped: 0 });
  assert.equal(readAudit(file).length, 0);

  t.mock.timers.tick(5);
  assert.deepEqual(log.stats, { commits: 1, records: 500, checkpoints: 0, dropped: 0 });
  const stored = readAudit(file);
  assert.equal(stored.length, 500);
  assert.deepEqual(
    stored.slice(0, 2).map((r) => [r.seq, r.details]),
    [
      [1, { i: 0 }],
      [2, { i: 1 }],
    ],
  );

  log.record({ kind: "secret.set", subject: "STRIPE_KEY" });
  log.record({ kind: "secret.removed", subject: "OLD_KEY" });
  t.mock.timers.tick(5);
  assert.equal(log.stats.commits, 2);
  assert.equal(log.stats.records, 502);
});

test("a checkpoint is signed every N records, T ms after an unsigned write, and on close", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_000_000 });
  const file = tempFile(t);
  const log = openAuditLog(file, {
    signingKeyPem: KEYS.privatePem,
    checkpointEvery: 10,
    checkpointMs: 10_000,
  });
  for (let i = 0; i < 25; i++) log.record({ kind: "admin.call", details: { i } });
  log.flush();
  assert.equal(log.stats.checkpoints, 2); // at 10 and 20
  assert.deepEqual(verifyAuditLog(file, [KEYS.publicPem]), {
    ok: true,
    records: 25,
    checkpoints: 2,
    unsigned: 5,
  });

  t.mock.timers.tick(9_999);
  assert.equal(log.stats.checkpoints, 2);
  t.mock.timers.tick(1);
  assert.equal(log.stats.checkpoints, 3);
  assert.deepEqual(verifyAuditLog(file, [KEYS.publicPem]), {
    ok: true,
    records: 25,
    checkpoints: 3,
    unsigned: 0,
  });

  log.record({ kind: "admin.call" });
  log.close();
  assert.equal(log.stats.checkpoints, 4);
  assert.deepEqual(verifyAuditLog(file, [KEYS.publicPem]), {
    ok: true,
    records: 26,
    checkpoints: 4,
    unsigned: 0,
  });
});

test("a reopened log and a second writer on the same file continue one chain", (t) => {
  const file = tempFile(t);
  const first = openAuditLog(file, { signingKeyPem: KEYS.privatePem, checkpointEvery: 7 });
  for (let i = 0; i < 5; i++) first.record({ kind: "app.started", details: { i } });
  first.close();

  // The platform and a CLI command, each appending in turn.
  const platform = openAuditLog(file, { signingKeyPem: KEYS.privatePem, checkpointEvery: 7 });
  const cli = openAuditLog(file, { signingKeyPem: KEYS.privatePem, checkpointEvery: 7 });
  for (let round = 0; round < 4; round++) {
    platform.record({ kind: "ingress.rejected", details: { round } });
    platform.record({ kind: "ingress.rejected", details: { round } });
    platform.flush();
    cli.record({ kind: "secret.set", subject: `S${round}` });
    cli.flush();
  }
  platform.close();
  cli.close();

  // Checkpoints at 5 (first close), 12 (seven after 5, whoever wrote them) and 17 (platform close).
  const result = verifyAuditLog(file, [KEYS.publicPem]);
  assert.deepEqual(result, { ok: true, records: 17, checkpoints: 3, unsigned: 0 });
  assert.deepEqual(
    readAudit(file, { afterSeq: 5, limit: 3 }).map((r) => [r.seq, r.kind]),
    [
      [6, "ingress.rejected"],
      [7, "ingress.rejected"],
      [8, "secret.set"],
    ],
  );
});

test("secret values never reach the file, while the names callers pass are kept", (t) => {
  const file = tempFile(t);
  const log = openAuditLog(file, { signingKeyPem: KEYS.privatePem });
  const leaks = [
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "hunter2-the-password",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl",
  ];
  log.record({
    kind: "secret.rotated",
    actor: "cli:alice",
    subject: "STRIPE_KEY",
    details: {
      secretName: "STRIPE_KEY",
      value: leaks[0],
      previous: { password: leaks[1] },
      headers: { Authorization: `Bearer ${leaks[3]}` },
      note: leaks[2],
      graceSeconds: 86400,
    },
  });
  log.close();

  const [stored] = readAudit(file);
  assert.deepEqual(stored?.details, {
    secretName: "STRIPE_KEY",
    value: "[REDACTED]",
    previous: { password: "[REDACTED]" },
    headers: { Authorization: "[REDACTED]" },
    note: "[REDACTED]",
    graceSeconds: 86400,
  });
  assert.equal(stored?.subject, "STRIPE_KEY");
  const bytes = readFileSync(file, "latin1");
  assert.ok(bytes.includes("STRIPE_KEY"), "the test reads the right file");
  for (const leak of leaks) assert.ok(!bytes.includes(leak), `${leak} is in the audit file`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test("an exported record can be hashed again from its JSON alone", (t) => {
  const file = tempFile(t);
  const log = openAuditLog(file, { signingKeyPem: KEYS.privatePem });
  log.record({
    kind: "ingress.rejected",
    actor: "storefront",
    subject: "order.created",
    outcome: "denied",
    details: { z: 1, a: [1.5, "ü", null, { b: true, "10": 2, "9": 3 }], reason: 'quote " and \n newline' },
  });
  log.record({ kind: "app.started" });
  log.close();

  const lines = readAudit(file).map((r) => JSON.parse(JSON.stringify(r)));
  let prev = "0".repeat(64);
  for (const r of lines) {
    const body = canonicalJson({
      actor: r.actor,
      subject: r.subject,
      outcome: r.outcome,
      details: r.details,
    });
    assert.equal(r.prevHash, prev);
    assert.equal(hashRecord(r.seq, r.at, r.kind, body, r.prevHash), r.hash);
    prev = r.hash;
  }
});

test("misuse is refused at once: a malformed kind or outcome, a closed log, a non-Ed25519 key", (t) => {
  const file = tempFile(t);
  const log = openAuditLog(file, { signingKeyPem: KEYS.privatePem });
  assert.throws(() => log.record({ kind: "Ingress Rejected" }), { code: AUDIT_BAD_ENTRY });
  assert.throws(() => log.record({ kind: "x", outcome: "maybe" as "info" }), { code: AUDIT_BAD_ENTRY });
  log.record({ kind: "app.started" });
  log.close();
  assert.throws(() => log.record({ kind: "app.started" }), { code: AUDIT_BAD_ENTRY, message: /closed/ });
  assert.equal(readAudit(file).length, 1);

  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  assert.throws(
    () =>
      openAuditLog(tempFile(t), {
        signingKeyPem: rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      }),
    { code: AUDIT_BAD_KEY, message: /rsa key; expected Ed25519/ },
  );
  assert.throws(() => readAudit(join(tmpdir(), "palisade-no-such-audit.db")), { code: AUDIT_NOT_FOUND });
});
