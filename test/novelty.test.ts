/**
 * Detector 2 (capability-target novelty) against a running platform: real sandboxes, real HTTP, the
 * real CLI in a child process on the same files. After a function's bundle version has learned its
 * capability targets, the first use of a new one is a finding (an anomaly event, an audit record, a
 * metric) and, by default, nothing is held or lost. Traffic that keeps to the learned targets makes
 * no finding, whatever its data; the baseline outlives a restart; a new bundle version learns again.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { NOVELTY_FILE, readBaselines } from "../src/detect/index.ts";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { palisade, sleep, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs, type LogLine } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal, writeFiles } from "./kit/temp-app.ts";

const APP = (detect: string) => `name: novelty
events:
  job.queued: { schema: schemas/job.json }
  job.done: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  worker:
    handler: functions/worker.ts
    on: [job.queued]
    secrets: [API_KEY, ADMIN_KEY]
    kv: { orders: readwrite, admin: readwrite }
    emit: [job.done]
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
detect:
  novelty: ${detect}
`;

/**
 * The worker reads one secret, writes one kv namespace and emits one type for every event, with
 * keys and data from the event; only an event with `admin: true` makes its code take the other
 * branch, which reads a secret it never read while learning.
 */
const WORKER = `export default async (e, ctx) => {
  await ctx.secrets.get("API_KEY");
  await ctx.kv.set("orders", "order-" + e.data.n, { n: e.data.n, note: e.data.note ?? "" });
  await ctx.emit("job.done", { n: e.data.n });
  if (e.data.admin === true) await ctx.secrets.get("ADMIN_KEY");
  ctx.log.info("worked", { n: e.data.n });
};`;

const FILES = {
  "palisade.yaml": APP("{ learn: { invocations: 3 } }"),
  "schemas/job.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: { n: { type: "integer" }, admin: { type: "boolean" }, note: { type: "string" } },
  },
  "schemas/n.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: { n: { type: "integer" } },
  },
  "functions/worker.ts": WORKER,
  "functions/watcher.ts":
    'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, scope: e.data.scope.name, response: e.data.response, evidence: e.data.evidence });',
};

const worked = (lines: readonly LogLine[]) =>
  lines.filter((l) => l.fn === "worker" && l.msg === "worked").map((l) => l.n as number);
const learnedLine = (l: LogLine) => l.fn === "worker" && /novelty learning period ended/.test(l.msg);

/** The app on a running platform over `dir`, closed when the test ends. */
async function start(t: TestContext, dir: string) {
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const send = async (data: object): Promise<string> => {
    const res = await post(`${platform.url}/events`, { type: "job.queued", data });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.ids[0] as string;
  };
  /** Sends `data` and waits until the worker ran for it. */
  const run = async (data: { n: number; admin?: boolean }): Promise<string> => {
    const id = await send(data);
    await waitUntil(`the worker to run ${data.n}`, () => worked(logs.lines).includes(data.n));
    return id;
  };
  const metrics = async () => scrape(platform);
  /** Waits until `count` of the worker's deliveries settled (and so were counted by the detector). */
  const settled = (count: number) =>
    waitUntil(`${count} settled deliveries`, async () =>
      (await metrics()).includes(`palisade_deliveries_total{fn="worker",outcome="delivered"} ${count}\n`),
    );
  return { logs, platform, send, run, metrics, settled };
}

function appDir(t: TestContext, files: Record<string, string | object> = FILES): string {
  const dir = tempApp(t, files);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "API_KEY", "api-value");
  setSecret(dir, "ADMIN_KEY", "admin-value");
  return dir;
}

const NOVELTY_METRIC =
  /palisade_anomaly_findings_total\{detector="novelty",severity="medium",response="alert"\} (\d+)/;

test("a new capability target after learning is one finding (event, audit record, metric); nothing is held or lost", async (t) => {
  const dir = appDir(t);
  const { logs, platform, send, run, metrics } = await start(t, dir);
  const ids = [await run({ n: 1 }), await run({ n: 2 }), await run({ n: 3 })];
  const learned = await logs.waitFor(learnedLine);
  assert.equal(learned.invocations, 3);
  assert.equal(learned.pairs, 3, "secret API_KEY, kv-write orders, emit job.done");

  const admin = await send({ n: 4, admin: true });
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual([seen.detector, seen.scope, seen.response], ["novelty", "worker", "alert"]);
  const evidence = seen.evidence as Record<string, unknown>;
  assert.deepEqual(
    [evidence.capability, evidence.target, evidence.eventId, evidence.learnedPairs],
    ["secret", "ADMIN_KEY", admin, 3],
  );
  assert.match(String(evidence.bundleVersion), /^[0-9a-f]{64}$/);

  // The same new target again, and more ordinary work: no second finding, nothing held.
  ids.push(admin, await run({ n: 5, admin: true }), await run({ n: 6 }));
  assert.match(await metrics(), NOVELTY_METRIC);
  assert.equal(NOVELTY_METRIC.exec(await metrics())?.[1], "1", "reported once per pair");
  assert.match(await metrics(), /palisade_function_quarantined\{fn="worker"\} 0/);
  assert.deepEqual(
    worked(logs.lines).sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6],
  );
  await waitUntil("every delivery to settle", async () => {
    for (const id of ids) {
      const states = (await platform.store.queue.deliveries(id)).map((d) => `${d.target}:${d.state}`);
      if (states.join() !== "worker:delivered") return false;
    }
    return true;
  });

  await waitUntil("the finding's audit record", async () => {
    const tail = await palisade(["audit", "tail", "-n", "200", "--app", dir, "--json"]);
    const records = tail.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { kind: string; subject?: string; details?: { detector?: string } });
    return records.some(
      (r) => r.kind === "security.anomaly" && r.subject === "worker" && r.details?.detector === "novelty",
    );
  });
});

test("a sender cannot raise a finding while the code keeps to its learned targets, whatever the data", async (t) => {
  const { logs, platform, send, run, metrics, settled } = await start(t, appDir(t));
  for (let n = 1; n <= 3; n++) await run({ n });
  await logs.waitFor(learnedLine);
  // Other kv keys, other data and sizes, at once; and requests the gateway refuses.
  await Promise.all(Array.from({ length: 20 }, (_, i) => send({ n: 10 + i, note: "x".repeat(i * 100) })));
  const refused = [
    await post(`${platform.url}/events`, { type: "job.queued", data: { n: "7" } }),
    await post(`${platform.url}/events`, { type: "job.queued", data: { n: 8, admin: "yes" } }),
    await post(
      `${platform.url}/events`,
      { type: "job.queued", data: { n: 9, admin: true } },
      undefined,
      "wrong-key-0123456789",
    ),
  ];
  assert.deepEqual(
    refused.map((r) => r.status),
    [400, 400, 401],
  );
  await settled(23);
  assert.doesNotMatch(await metrics(), /detector="novelty"/);
  assert.equal(
    logs.lines.some((l) => l.msg === "anomaly seen"),
    false,
  );

  // The detector is watching: the code's other branch is a finding.
  await send({ n: 99, admin: true });
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.equal(seen.detector, "novelty");
});

test("the baseline outlives a restart; a new bundle version learns again", async (t) => {
  const dir = appDir(t);
  const first = await start(t, dir);
  for (let n = 1; n <= 3; n++) await first.run({ n });
  await first.logs.waitFor(learnedLine);
  await first.platform.close();
  const file = join(dir, ".palisade", NOVELTY_FILE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const before = readBaselines(file).get("worker");
  assert.equal(before?.learned, 3);

  // Restarted on the same files: still past learning, so the new target is a finding at once.
  const second = await start(t, dir);
  await second.send({ n: 4, admin: true });
  const seen = await second.logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual([seen.detector, (seen.evidence as { target: string }).target], ["novelty", "ADMIN_KEY"]);
  assert.equal(second.logs.lines.some(learnedLine), false, "no new learning period");
  await second.platform.close();

  // A changed handler is a new bundle version: its first invocations learn, whatever they use (here
  // a kv namespace no version has used before).
  const v2 = WORKER.replace(
    'await ctx.secrets.get("ADMIN_KEY");',
    '{ await ctx.secrets.get("ADMIN_KEY"); await ctx.kv.get("admin", "flag"); }',
  );
  assert.notEqual(v2, WORKER);
  writeFiles(dir, { "functions/worker.ts": v2 });
  const third = await start(t, dir);
  await third.run({ n: 5, admin: true });
  await third.run({ n: 6 });
  await third.settled(2);
  assert.doesNotMatch(await third.metrics(), /detector="novelty"/);
  assert.equal(
    third.logs.lines.some((l) => l.msg === "anomaly seen"),
    false,
  );
  await third.platform.close();
  const after = readBaselines(file).get("worker");
  assert.notEqual(after?.version, before?.version);
  assert.deepEqual([after?.invocations, after?.learnedAt], [2, undefined]);
  assert.ok(after?.pairs.includes("kv-read:admin"));
  assert.doesNotMatch(readFileSync(file, "utf8"), /admin-value|api-value/, "no secret values");
});

test("with response quarantine (opt-in) the function is held, losslessly, after a new target", async (t) => {
  const dir = appDir(t, {
    ...FILES,
    "palisade.yaml": APP("{ learn: { invocations: 2 }, response: quarantine }"),
  });
  const { logs, platform, send, run, metrics } = await start(t, dir);
  await run({ n: 1 });
  await run({ n: 2 });
  await logs.waitFor(learnedLine);
  await send({ n: 3, admin: true });
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual([seen.detector, seen.response], ["novelty", "quarantine"]);
  await waitUntil("the quarantine", async () =>
    /palisade_function_quarantined\{fn="worker"\} 1/.test(await metrics()),
  );
  const held = await send({ n: 4 });
  await sleep(300); // let any (wrong) attempt show up
  assert.equal(worked(logs.lines).includes(4), false, "held");
  assert.deepEqual(
    (await platform.store.queue.deliveries(held)).map((d) => `${d.target}:${d.state}:${d.attempts}`),
    ["worker:pending:0"],
  );
});
