import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AUDIT_FILE, AUDIT_NOT_FOUND, ensureAuditKey, openAuditLog } from "../../audit/index.ts";
import { generateSigningKey, loadSigningKey } from "../../supply/index.ts";
import { runAuditExport, runAuditTail, runAuditVerify } from "./audit.ts";

function appWithLog(t: TestContext, records: number): string {
  const app = mkdtempSync(join(tmpdir(), "palisade-cli-audit-"));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  const { privateKeyPem } = generateSigningKey(app);
  const log = openAuditLog(join(app, AUDIT_FILE), { signingKeyPem: privateKeyPem, checkpointEvery: 10 });
  for (let i = 1; i <= records; i++) {
    log.record({ kind: "ingress.rejected", actor: "storefront", outcome: "denied", details: { i } });
  }
  log.close();
  return app;
}

// Commands write strings; the test runner reports through the same stdout with buffers, which
// pass through untouched.
function captureStdout(t: TestContext): { text: () => string } {
  let out = "";
  const write = process.stdout.write.bind(process.stdout) as (chunk: Uint8Array) => boolean;
  t.mock.method(process.stdout, "write", (chunk: string | Uint8Array) => {
    if (typeof chunk !== "string") return write(chunk);
    out += chunk;
    return true;
  });
  return { text: () => out };
}

test("audit verify says intact with counts (exit 0), or names the first bad record (exit 1)", (t) => {
  const app = appWithLog(t, 25);
  const out = captureStdout(t);
  assert.equal(runAuditVerify({ app }), 0);
  assert.equal(out.text(), "audit log intact: 25 records, 3 signed checkpoints\n");

  const db = new DatabaseSync(join(app, AUDIT_FILE));
  db.exec("UPDATE records SET body = replace(body, 'denied', 'allowed') WHERE seq = 17");
  db.close();
  assert.equal(runAuditVerify({ app }), 1);
  assert.match(out.text(), /audit log is NOT intact at record 17: record 17 was changed/);
  assert.equal(runAuditVerify({ app, json: true }), 1);
  assert.equal(JSON.parse(out.text().trim().split("\n").at(-1) ?? "").firstBad, 17);
});

test("a log checkpointed with the signing key before the audit key existed still verifies as it goes on", (t) => {
  const app = appWithLog(t, 15); // checkpoints signed with keys/signing.key
  const log = openAuditLog(join(app, AUDIT_FILE), {
    signingKeyPem: ensureAuditKey(app),
    checkpointEvery: 10,
  });
  for (let i = 1; i <= 15; i++) log.record({ kind: "ingress.rejected", outcome: "denied", details: { i } });
  log.close();
  const out = captureStdout(t);
  assert.equal(runAuditVerify({ app }), 0);
  assert.equal(out.text(), "audit log intact: 30 records, 4 signed checkpoints\n");
  rmSync(join(app, "keys", "signing.pub"));
  assert.equal(runAuditVerify({ app }), 1, "the old checkpoints need the signing key's public half");
  assert.match(out.text(), /checkpoint at record 10 is signed by key .* which is not a trusted key/);
});

test("audit verify without a log fails with a message saying when it is created", (t) => {
  const app = mkdtempSync(join(tmpdir(), "palisade-cli-audit-"));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  assert.throws(() => runAuditVerify({ app }), { code: AUDIT_NOT_FOUND, message: /created when the app/ });
});

test("audit export prints JSON Lines since a time; a bad time is a usage error", async (t) => {
  const app = appWithLog(t, 1500);
  const out = captureStdout(t);
  assert.equal(await runAuditExport({ app, since: "1h" }), 0);
  const lines = out
    .text()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 1500);
  assert.deepEqual(
    lines.map((r) => r.seq),
    Array.from({ length: 1500 }, (_, i) => i + 1),
  );
  assert.equal(lines[0].details.i, 1);
  assert.match(lines[0].hash, /^[0-9a-f]{64}$/);

  const before = out.text().length;
  assert.equal(await runAuditExport({ app, since: new Date(Date.now() + 60_000).toISOString() }), 0);
  assert.equal(out.text().length, before);
  await assert.rejects(runAuditExport({ app, since: "yesterday" }), { code: "PAL_CLI_USAGE" });
});

test("audit tail prints the newest records; -f follows new ones until SIGTERM", async (t) => {
  const app = appWithLog(t, 30);
  const out = captureStdout(t);
  assert.equal(await runAuditTail({ app, lines: 2 }), 0);
  const shown = out.text().trim().split("\n");
  assert.equal(shown.length, 2);
  assert.match(shown[0] ?? "", /#29 {2}ingress\.rejected {2}denied {2}actor=storefront {2}\{"i":29\}$/);

  const following = runAuditTail({ app, follow: true, json: true, lines: 1 });
  const log = openAuditLog(join(app, AUDIT_FILE), { signingKeyPem: loadSigningKey(app) });
  log.record({ kind: "secret.set", subject: "NEW_KEY" });
  log.close();
  for (let i = 0; i < 100 && !out.text().includes('"secret.set"'); i++) await sleep(50);
  process.emit("SIGTERM");
  assert.equal(await following, 0);
  const followed = out
    .text()
    .trim()
    .split("\n")
    .slice(2)
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    followed.map((r) => [r.seq, r.kind]),
    [
      [30, "ingress.rejected"],
      [31, "secret.set"],
    ],
  );
});

test("text output escapes control characters an attacker put in a record", async (t) => {
  const app = appWithLog(t, 0);
  const log = openAuditLog(join(app, AUDIT_FILE), { signingKeyPem: loadSigningKey(app) });
  log.record({ kind: "ingress.rejected", actor: "evil\u001b]0;pwned\u0007", outcome: "denied" });
  log.close();
  const out = captureStdout(t);
  await runAuditTail({ app });
  const controls = [...out.text().slice(0, -1)].filter((c) => (c.codePointAt(0) ?? 0) < 0x20);
  assert.deepEqual(controls, [], JSON.stringify(out.text()));
  assert.match(out.text(), /actor=evil\\u001b\]0;pwned\\u0007/);
});
