/**
 * Detector 6 (payload and duration outliers) against a running platform: real sandboxes, real HTTP,
 * the real CLI in a child process on the same files. After a function's warm-up, an event whose data
 * is fifty times the usual size, or one that makes the handler run for seconds, is a finding (an
 * anomaly event a watcher function receives, an audit record, a metric) and nothing else: the
 * function is not held and every event is delivered, the outlier included.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { BIN } from "./kit/cli-process.ts";
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

/** The CLI in a child process, not blocking this one (the platform under test runs here). */
const palisade = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ status: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr }),
    );
  });

const APP = (outliers: string) => `name: outliers
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  worker:
    handler: functions/worker.ts
    on: [job.queued]
    limits: { timeoutMs: 10000 }
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
detect:
  outliers: ${outliers}
`;

const FILES = (outliers: string) => ({
  "palisade.yaml": APP(outliers),
  "schemas/job.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: {
      n: { type: "integer" },
      note: { type: "string", maxLength: 100_000 },
      sleepMs: { type: "integer", minimum: 0, maximum: 5000 },
    },
  },
  "functions/worker.ts": `export default async (e, ctx) => {
  if (e.data.sleepMs) await new Promise((r) => setTimeout(r, e.data.sleepMs));
  ctx.log.info("worked", { n: e.data.n });
};`,
  "functions/watcher.ts":
    'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, scope: e.data.scope.name, severity: e.data.severity, response: e.data.response, evidence: e.data.evidence });',
});

const worked = (lines: readonly LogLine[]) =>
  lines.filter((l) => l.fn === "worker" && l.msg === "worked").map((l) => l.n as number);
const seen = (metric: string, eventId?: string) => (l: LogLine) => {
  const evidence = l.evidence as Record<string, unknown> | undefined;
  return (
    l.msg === "anomaly seen" &&
    l.detector === "outliers" &&
    evidence?.metric === metric &&
    (eventId === undefined || evidence.eventId === eventId)
  );
};

/** The app on a running platform, closed when the test ends. */
async function start(t: TestContext, outliers: string) {
  const dir = tempApp(t, FILES(outliers));
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const ids: string[] = [];
  const send = async (data: { n: number; note?: string; sleepMs?: number }): Promise<string> => {
    const res = await post(`${platform.url}/events`, { type: "job.queued", data });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(res.body.ids[0] as string);
    return res.body.ids[0] as string;
  };
  const metrics = async () => scrape(platform);
  /** Waits until `count` of the worker's deliveries settled (and so were seen by the detector). */
  const settled = (count: number) =>
    waitUntil(`${count} settled deliveries`, async () =>
      (await metrics()).includes(`palisade_deliveries_total{fn="worker",outcome="delivered"} ${count}\n`),
    );
  /** Every event sent was delivered to the worker, once, and the worker is not held. */
  const allDelivered = async (ns: number[]) => {
    await settled(ids.length);
    for (const id of ids) {
      const states = (await platform.store.queue.deliveries(id)).map((d) => `${d.target}:${d.state}`);
      assert.deepEqual(states, ["worker:delivered"], id);
    }
    assert.deepEqual(
      worked(logs.lines).toSorted((a, b) => a - b),
      ns,
    );
    assert.match(await metrics(), /palisade_function_quarantined\{fn="worker"\} 0/);
  };
  return { dir, logs, send, metrics, settled, allDelivered };
}

/** Notes of 150..250 characters: the worker's usual event data is about 200 bytes. */
const note = (n: number) => "x".repeat(150 + ((n * 37) % 100));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("after the warm-up, event data fifty times the usual size is one finding; nothing is held or lost", async (t) => {
  const { dir, logs, send, metrics, settled, allDelivered } = await start(t, "{ warmup: 20 }");
  for (const n of range(1, 30)) await send({ n, note: note(n) });
  await settled(30);
  // The usual sizes are no finding (durations may jitter: only the data size is asserted here). The
  // platform logs a finding in the same step as it counts the settle, so none is still to come.
  const sizeFinding = (l: LogLine) => l.detector === "outliers" && /bytes of event data/.test(l.msg);
  assert.equal(logs.lines.some(sizeFinding), false);

  const big = await send({ n: 31, note: "y".repeat(12_000) });
  const finding = await logs.waitFor(seen("payloadBytes", big));
  assert.deepEqual([finding.scope, finding.severity, finding.response], ["worker", "low", "alert"]);
  const evidence = finding.evidence as Record<string, number | string>;
  assert.ok(Number(evidence.value) > 12_000, `value ${evidence.value}`);
  assert.ok(Number(evidence.p99) >= 180 && Number(evidence.p99) < 400, `p99 ${evidence.p99}`);
  assert.deepEqual([evidence.observations, evidence.principal, evidence.factor], [30, "tester", 5]);
  assert.match(
    await metrics(),
    /palisade_anomaly_findings_total\{detector="outliers",severity="low",response="alert"\} \d/,
  );

  // More ordinary work runs as before; the outlier itself was delivered too.
  for (const n of range(32, 36)) await send({ n, note: note(n) });
  await allDelivered(range(1, 36));
  await waitUntil("the finding's audit record", async () => {
    const tail = await palisade(["audit", "tail", "-n", "200", "--app", dir, "--json"]);
    return tail.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { kind: string; subject?: string; details?: { detector?: string } })
      .some(
        (r) => r.kind === "security.anomaly" && r.subject === "worker" && r.details?.detector === "outliers",
      );
  });
});

test("an event that makes the handler run for seconds is a duration finding; it still completes", async (t) => {
  // A one-second window: a finding on scheduling jitter earlier cannot hide the one asserted.
  const { logs, send, settled, allDelivered } = await start(t, "{ warmup: 20, windowSec: 1 }");
  for (const n of range(1, 25)) await send({ n });
  await settled(25);
  const slow = await send({ n: 26, sleepMs: 3000 });
  const finding = await logs.waitFor(seen("durationMs", slow), 30_000);
  const evidence = finding.evidence as Record<string, number | string>;
  assert.ok(Number(evidence.value) >= 3000, `value ${evidence.value}`);
  assert.ok(Number(evidence.value) > 5 * Number(evidence.p99), `p99 ${evidence.p99}`);
  assert.equal(finding.response, "alert");
  await send({ n: 27 });
  await allDelivered(range(1, 27));
});
