/**
 * Nobody can flood the audit log: a thousand identical refused requests, or a function hammering a
 * capability it was not granted, end up as a handful of records whose counts sum to exactly the
 * number of decisions; the chain still verifies and the platform keeps working.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { AUDIT_FILE, readAudit } from "../src/audit/index.ts";
import { startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
const countOf = (details: unknown) => (details as { count?: unknown }).count;

test("1000 identical unauthorized requests become a handful of audit records whose counts sum to exactly 1000", async (t) => {
  const dir = tempApp(t, {
    // Alert only: this test is about the audit log (blocking has test/credential-stuffing.test.ts).
    "palisade.yaml": `name: flooded\nevents:\n  job.queued: { schema: schemas/n.json }\n${testPrincipal(["job.queued"])}functions: {}\ndetect:\n  credentialStuffing: { response: alert }\n`,
    "schemas/n.json": NUMBER_SCHEMA,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  const events = `${platform.url}/events`;
  const flood = async () => {
    for (let i = 0; i < 50; i++) {
      const res = await post(events, { type: "job.queued", data: { n: 1 } }, "application/json", "wrong-key");
      assert.equal(res.status, 401);
    }
  };
  await Promise.all(Array.from({ length: 20 }, flood));
  // Another reason from the same client is its own record, and the platform still accepts events.
  assert.equal((await post(events, "{", "application/json")).status, 400);
  assert.equal((await post(events, { type: "job.queued", data: { n: 1 } })).status, 202);
  await platform.close();

  const records = readAudit(join(dir, AUDIT_FILE)).filter((r) => r.kind === "ingress.rejected");
  const unauthenticated = records.filter(
    (r) => (r.details as { reason?: string }).reason === "unauthenticated",
  );
  const total = unauthenticated.reduce((sum, r) => sum + Number(countOf(r.details)), 0);
  assert.equal(total, 1000);
  assert.ok(unauthenticated.length >= 2 && unauthenticated.length <= 50, `${unauthenticated.length} records`);
  assert.equal(countOf(unauthenticated[0]?.details), 1, "the first refusal is recorded at once");
  assert.deepEqual(
    records
      .filter((r) => (r.details as { reason?: string }).reason === "invalid")
      .map((r) => countOf(r.details)),
    [1],
  );
  const verify = palisade("audit", "verify", "--app", dir);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
});

test("a function hammering a capability it was not granted is audited as counted records with the exact total", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: hammer
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  hammer:
    handler: functions/hammer.ts
    on: [job.queued]
    retry: { attempts: 1 }
# Alert only: this test is about the audit log (the quarantine has test/quarantine.test.ts).
detect:
  deniedBurst: { response: alert }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/hammer.ts": `export default async (e, ctx) => {
  let denied = 0;
  for (let i = 0; i < 300; i++) {
    try { await ctx.secrets.get("ADMIN_TOKEN"); } catch { denied++; }
  }
  ctx.log.info("hammered", { denied });
};`,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  for (let n = 0; n < 2; n++)
    assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n } })).status, 202);
  await logs.waitFor(() => logs.lines.filter((l) => l.msg === "hammered").length === 2);
  assert.deepEqual(
    logs.lines.filter((l) => l.msg === "hammered").map((l) => l.denied),
    [300, 300],
  );
  // The platform keeps delivering: a third event runs to the end as well.
  assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n: 9 } })).status, 202);
  await logs.waitFor(() => logs.lines.filter((l) => l.msg === "hammered").length === 3);
  await platform.close();

  const denials = readAudit(join(dir, AUDIT_FILE)).filter((r) => r.kind === "capability.denied");
  assert.ok(denials.length >= 2 && denials.length <= 20, `${denials.length} records`);
  for (const r of denials) {
    assert.equal(r.actor, "function:hammer");
    assert.equal(r.subject, "ADMIN_TOKEN");
  }
  const total = denials.reduce((sum, r) => sum + Number(countOf(r.details)), 0);
  assert.equal(total, 900);
  assert.equal(palisade("audit", "verify", "--app", dir).status, 0);
});
