/**
 * The audit trail of a real run: ingress refusals, capability denials, dead letters, the start with
 * its manifest digest and secret operations are recorded; the chain verifies; no secret value is in
 * any record; a record changed in the file is found and named.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { GENESIS_HASH, hashRecord } from "../src/audit/index.ts";
import { startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const SECRET = "sk_live_audit-marker-5d1e9";
const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

test("a run's security decisions are in a verifiable audit chain without secret values; tampering is named", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: audited
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  nosy:
    handler: functions/nosy.ts
    on: [job.queued]
    secrets: [API_TOKEN]
    retry: { attempts: 1 }
detect:
  deniedBurst: { response: alert }   # its three refusals are the audit trail under test, not a quarantine
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/nosy.ts":
      "export default async (e, ctx) => { const t = await ctx.secrets.get('API_TOKEN'); ctx.log.info('token ' + t); await ctx.secrets.get('ADMIN_TOKEN'); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const set = palisade("secrets", "set", "API_TOKEN", "--value", SECRET, "--app", dir);
  assert.equal(set.status, 0, set.stderr);

  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  for (let n = 0; n < 3; n++) await post(`${platform.url}/events`, { type: "job.queued", data: { n } });
  assert.equal(
    (
      await post(
        `${platform.url}/events`,
        { type: "job.queued", data: { n: 1 } },
        "application/json",
        `Bearer-${SECRET}`,
      )
    ).status,
    401,
  );
  await logs.waitFor(() => logs.lines.filter((l) => l.msg === "delivery failed").length === 3);
  await platform.close();
  // The app now has its signing key (dev made it), so CLI operations are audited too.
  const rotated = palisade("secrets", "rotate", "API_TOKEN", "--value", `${SECRET}-2`, "--app", dir);
  assert.equal(rotated.status, 0, rotated.stderr);

  const verify = palisade("audit", "verify", "--app", dir);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /audit log intact: \d+ records, \d+ signed checkpoints?/);

  const exported = palisade("audit", "export", "--since", "1h", "--app", dir);
  assert.equal(exported.status, 0, exported.stderr);
  const records = exported.stdout
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as { seq: number; kind: string; subject?: string; details?: Record<string, unknown> },
    );
  const kinds = records.map((r) => r.kind);
  for (const kind of [
    "secret.rotated",
    "app.started",
    "ingress.rejected",
    "capability.denied",
    "delivery.dead-lettered",
  ])
    assert.ok(kinds.includes(kind), `no ${kind} in ${kinds.join(", ")}`);
  // Three denials, the repeats merged into a counted record.
  const denials = records.filter((r) => r.kind === "capability.denied");
  assert.equal(
    denials.reduce((sum, r) => sum + Number(r.details?.count), 0),
    3,
  );
  assert.match(
    String(records.find((r) => r.kind === "app.started")?.details?.manifestDigest),
    /^[0-9a-f]{64}$/,
  );
  assert.equal(records.find((r) => r.kind === "secret.rotated")?.subject, "API_TOKEN");

  // No secret value in any record, nor anywhere in the file.
  assert.ok(!exported.stdout.includes("audit-marker"), "a secret value is in the audit export");
  assert.ok(
    !readFileSync(join(dir, ".palisade", "audit.db"))
      .toString("latin1")
      .includes("audit-marker"),
  );

  // Change one record in the file: verify names it and exits 1.
  const target = records.find((r) => r.kind === "ingress.rejected");
  assert.ok(target);
  const db = new DatabaseSync(join(dir, ".palisade", "audit.db"));
  const body = String(db.prepare("SELECT body FROM records WHERE seq = ?").get(target.seq)?.body);
  db.prepare("UPDATE records SET body = ? WHERE seq = ?").run(body.replace("401", "402"), target.seq);
  db.close();
  const broken = palisade("audit", "verify", "--app", dir);
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, new RegExp(`record ${target.seq}\\b`));
});

test("a chain rewritten with recomputed hashes and its checkpoints dropped does not verify", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: rewritten\nevents:\n  job.queued: { schema: schemas/n.json }\n${testPrincipal(["job.queued"])}functions: {}\n`,
    "schemas/n.json": NUMBER_SCHEMA,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  for (let n = 0; n < 3; n++)
    await post(
      `${platform.url}/events`,
      { type: "job.queued", data: { n } },
      "application/json",
      "wrong-key",
    );
  await platform.close();
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0);

  // The attacker: change a record, move every time back an hour, recompute the (unkeyed) chain and
  // delete the signed checkpoints it can no longer forge.
  const db = new DatabaseSync(join(dir, ".palisade", "audit.db"));
  const rows = db.prepare("SELECT seq, at, kind, body FROM records ORDER BY seq").all();
  let prev = GENESIS_HASH;
  for (const r of rows) {
    const at = Number(r.at) - 3_600_000;
    const body = String(r.body).replace("401", "200");
    const hash = hashRecord(Number(r.seq), at, String(r.kind), body, prev);
    db.prepare("UPDATE records SET at = ?, body = ?, prev_hash = ?, hash = ? WHERE seq = ?").run(
      at,
      body,
      prev,
      hash,
      Number(r.seq),
    );
    prev = hash;
  }
  db.prepare("DELETE FROM checkpoints").run();
  db.close();
  const caught = palisade("audit", "verify", "--app", dir);
  assert.equal(caught.status, 1, caught.stdout);
  assert.match(caught.stdout, /record \d+ is not the one the signed head in .*audit-head\.json" vouches for/);

  // Without the signed head kept beside the log, the unsigned records still give it away.
  rmSync(join(dir, ".palisade", "audit-head.json"));
  const verify = palisade("audit", "verify", "--app", dir);
  assert.equal(verify.status, 1, verify.stdout);
  assert.match(verify.stdout, /NOT intact at record 1: records 1–\d+ are covered by no signed checkpoint/);
});
