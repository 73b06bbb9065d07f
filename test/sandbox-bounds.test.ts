/**
 * Process-level bounds of the sandbox, through the whole platform: a function that crashes in a loop
 * becomes unavailable (metric, audit record, deliveries held), and one that sends the host a message
 * over the bound is stopped (metric, audit record, dead-lettered); the app's other functions run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { readAudit } from "../src/audit/index.ts";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const auditOf = async (dir: string, kind: string) => {
  for (;;) {
    const record = readAudit(join(dir, ".palisade", "audit.db")).find((r) => r.kind === kind);
    if (record !== undefined) return record;
    await new Promise((r) => setTimeout(r, 50));
  }
};

const metric = async (
  platform: { url: string; app: { dir: string } },
  sample: string,
): Promise<number | undefined> => {
  const text = await scrape(platform);
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
};

test("a function crashing in a loop becomes unavailable, recorded and counted, with its deliveries held while another function runs", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: crashy
events:
  job.queued: { schema: schemas/n.json }
  other.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued", "other.queued"])}functions:
  crashy:
    handler: functions/crashy.ts
    on: [job.queued]
    limits: { concurrency: 1 }
  fine:
    handler: functions/fine.ts
    on: [other.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/crashy.ts": "export default () => { process.exit(3); };",
    "functions/fine.ts": "export default (e, ctx) => ctx.log.info('fine ran', { n: e.data.n });",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  for (let n = 0; n < 8; n++)
    assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n } })).status, 202);
  const down = await logs.waitFor(
    (l) => l.fn === "crashy" && String(l.msg).startsWith("function unavailable"),
    60_000,
  );
  assert.equal(down.crashes, 5);

  assert.equal((await post(`${platform.url}/events`, { type: "other.queued", data: { n: 1 } })).status, 202);
  await logs.waitFor((l) => l.msg === "fine ran");

  assert.equal(await metric(platform, 'palisade_function_unavailable{fn="crashy"}'), 1);
  assert.equal(await metric(platform, 'palisade_sandbox_crashes_total{fn="crashy"}'), 5);
  assert.equal(await metric(platform, 'palisade_sandbox_crashes_total{fn="fine"}'), undefined);
  // Held, not lost: no delivery of the crasher is dead-lettered; five attempts failed, the rest wait.
  assert.deepEqual(await platform.store.queue.deadLetters(20), []);
  const record = await auditOf(dir, "function.unavailable");
  assert.equal(record.subject, "crashy");
  assert.equal(record.details?.crashes, 5);
});

test("a function that sends the host a 96 MB message is stopped before the host buffers it, recorded and counted, while another function runs", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: big
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  big:
    handler: functions/big.ts
    on: [job.queued]
    emit: [job.queued]
  fine:
    handler: functions/fine.ts
    on: [job.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    // Bytes outside the V8 heap: the process can hold them; the host must not.
    "functions/big.ts":
      'export default (e, ctx) => ctx.emit("job.queued", new Uint8Array(96 * 1024 * 1024));',
    "functions/fine.ts": "export default (e, ctx) => ctx.log.info('fine ran', { n: e.data.n });",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);
  await logs.waitFor((l) => l.msg === "fine ran");
  await logs.waitFor((l) => l.msg === "delivery failed" && l.fn === "big", 60_000);
  const [dead] = await platform.store.queue.deadLetters(5);
  assert.equal(dead?.target, "big");
  assert.equal(dead?.reason, "limit-exceeded");
  assert.match(String(dead?.error), /sent a message of \d+ bytes, over the limit of 8388608/);

  const record = await auditOf(dir, "sandbox.stopped");
  assert.equal(record.subject, "big");
  assert.equal(record.details?.reason, "message_too_large");
  assert.ok(Number(record.details?.bytes) > 96 * 1024 * 1024, String(record.details?.bytes));
  assert.equal(record.details?.limit, 8 * 1024 * 1024);
  assert.equal(
    await metric(platform, 'palisade_sandbox_stopped_total{fn="big",reason="message_too_large"}'),
    1,
  );
  // The platform still serves: the next event reaches the healthy function.
  assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n: 2 } })).status, 202);
  await logs.waitFor((l) => l.msg === "fine ran" && l.n === 2);
});
