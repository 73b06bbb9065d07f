/**
 * Detector 5 (cost drift) against a running platform: real sandboxes, real HTTP, the cost meter
 * pricing each attempt. After a function's baseline is learned, invocations that each cost far more
 * (here: capability calls the event asks for) are a finding once a minute of them is judged: an
 * anomaly event a watcher function receives and a metric, and nothing else: the function is not held
 * and every event is delivered. When the rise lasts into the next judged minute, a second finding
 * throttles the function: its starts are paced, its deliveries wait pending, and every one still
 * runs once. The CUSUM steps per minute of the wall clock, so this test waits for two minute
 * boundaries (up to two minutes).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs, type LogLine } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const FILES = {
  "palisade.yaml": `name: drift
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  worker:
    handler: functions/worker.ts
    on: [job.queued]
    kv: { prices: read }
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
detect:
  costDrift: { warmup: 10, threshold: 1 }
`,
  "schemas/job.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: { n: { type: "integer" }, lookups: { type: "integer", minimum: 0, maximum: 10 } },
  },
  // Each lookup is a capability call, priced (cost.prices.capabilityCall) on top of the request.
  "functions/worker.ts": `export default async (e, ctx) => {
  for (let i = 0; i < (e.data.lookups ?? 0); i++) await ctx.kv.get("prices", "p" + i);
  ctx.log.info("worked", { n: e.data.n });
};`,
  "functions/watcher.ts":
    'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, scope: e.data.scope.name, severity: e.data.severity, response: e.data.response, evidence: e.data.evidence });',
};

const worked = (lines: readonly LogLine[]) =>
  lines.filter((l) => l.fn === "worker" && l.msg === "worked").map((l) => l.n as number);
const driftSeen = (l: LogLine) => l.msg === "anomaly seen" && l.detector === "cost-drift";

test("invocations that each cost several times the baseline are a cost-drift finding, then a throttle; nothing is lost", {
  timeout: 300_000,
}, async (t) => {
  const dir = tempApp(t, FILES);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const ids: string[] = [];
  const send = async (data: { n: number; lookups?: number }) => {
    const res = await post(`${platform.url}/events`, { type: "job.queued", data });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(res.body.ids[0] as string);
  };
  const metrics = async () => scrape(platform);
  const settled = (count: number) =>
    waitUntil(`${count} settled deliveries`, async () =>
      (await metrics()).includes(`palisade_deliveries_total{fn="worker",outcome="delivered"} ${count}\n`),
    );

  for (let n = 1; n <= 10; n++) await send({ n });
  await settled(10); // the baseline: ten attempts without lookups
  // Each attempt now makes eight priced calls: several times the baseline's cost, minute after minute.
  let n = 10;
  const until = Date.now() + 150_000;
  while (!logs.lines.some(driftSeen)) {
    assert.ok(Date.now() < until, "no cost-drift finding within 150 s");
    await send({ n: ++n, lookups: 8 });
    await sleep(250);
  }
  const finding = logs.lines.find(driftSeen) as LogLine;
  assert.deepEqual([finding.scope, finding.severity, finding.response], ["worker", "medium", "alert"]);
  const evidence = finding.evidence as Record<string, unknown>;
  assert.ok(Number(evidence.recentMean) > 2 * Number(evidence.baselineMean), JSON.stringify(evidence));
  assert.equal(evidence.baselineInvocations, 10);
  assert.deepEqual(evidence.principals, ["tester"]);
  assert.match(
    await metrics(),
    /palisade_anomaly_findings_total\{detector="cost-drift",severity="medium",response="alert"\} 1/,
  );

  // Nothing is held: every event ran, once, and the worker keeps running.
  await send({ n: ++n });
  await settled(ids.length);
  assert.deepEqual(
    worked(logs.lines).toSorted((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  for (const id of ids)
    assert.deepEqual(
      (await platform.store.queue.deliveries(id)).map((d) => `${d.target}:${d.state}`),
      ["worker:delivered"],
    );
  assert.match(await metrics(), /palisade_function_quarantined\{fn="worker"\} 0/);

  // The rise lasts into the next judged minute: a second finding against the same baseline
  // throttles the worker to what its traffic would spend at the baseline price.
  const throttledSeen = (l: LogLine) => driftSeen(l) && l.response === "throttle";
  const later = Date.now() + 150_000;
  while (!logs.lines.some(throttledSeen)) {
    assert.ok(Date.now() < later, "no throttle within 150 s of the alert");
    await send({ n: ++n, lookups: 8 });
    await sleep(250);
  }
  const throttle = (logs.lines.find(throttledSeen) as LogLine).evidence as Record<string, unknown>;
  const rate = Number(throttle.ratePerSec);
  assert.ok(rate > 0 && rate < 4, `throttled below the ~4/s it ran at: ${JSON.stringify(throttle)}`);
  assert.equal(throttle.throttleSec, 600);
  // A burst now waits for the throttle's tokens (held back, pending) and still runs, each once.
  const burst = n;
  for (let i = 0; i < 10; i++) await send({ n: ++n });
  await waitUntil("the throttle to hold the burst back", async () =>
    /palisade_delivery_holds_total\{fn="worker",hold="throttle"\} [1-9]/.test(await metrics()),
  );
  assert.ok(worked(logs.lines).filter((w) => w > burst).length < 10, "the burst did not all start at once");
  await waitUntil("every event to run", async () => worked(logs.lines).length === n, 90_000);
  assert.deepEqual(
    worked(logs.lines).toSorted((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  assert.match(
    await metrics(),
    /palisade_anomaly_findings_total\{detector="cost-drift",severity="medium",response="throttle"\} 1/,
  );
});
