/**
 * Prometheus as operators expect it: `/metrics` carries prom-client's default process and Node.js
 * metrics next to the platform's own, every name once; and under `palisade dev` (a real child
 * process) a counter keeps counting across a reload instead of going back to zero.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const MANIFEST = `name: counted
events:
  job.queued: { schema: schemas/n.json }
metrics:
  public: true
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
`;

function countedApp(t: Parameters<typeof tempApp>[0]): string {
  const dir = tempApp(t, {
    "palisade.yaml": MANIFEST,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/work.ts": "export default (e, ctx) => ctx.log.info('worked', { n: e.data.n });",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}

/** `GET /metrics` (public in these apps) as Prometheus text. */
async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of the sample `series` (name and labels as written), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("/metrics serves the process and Node.js default metrics beside palisade_*, each name once", async (t) => {
  const platform = await startPlatform({ appDir: countedApp(t), logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const text = await scrape(platform.url);

  for (const name of [
    "process_cpu_user_seconds_total",
    "process_cpu_seconds_total",
    "process_start_time_seconds",
    "process_resident_memory_bytes",
    "process_open_fds",
    "nodejs_eventloop_lag_seconds",
    "nodejs_heap_size_used_bytes",
    "nodejs_active_handles_total",
  ])
    assert.ok((sample(text, name) ?? -1) >= 0, `${name} is served with a value`);
  const version = text.split("\n").find((l) => l.startsWith("nodejs_version_info{"));
  assert.ok(version?.includes(`version="${process.version}"`), String(version));
  // The start time is this process's, in seconds since the epoch.
  const started = sample(text, "process_start_time_seconds") ?? 0;
  assert.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - process.uptime() - 5);

  const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
  const names = types.map((l) => l.split(" ")[2]);
  assert.equal(new Set(names).size, names.length, "no metric name is registered twice");
  assert.ok(names.includes("palisade_ingress_accepted_total"), "the platform's own metrics are still there");
  assert.ok(
    names.every((n) => /^(palisade|process|nodejs)_/.test(n ?? "")),
    `names: ${names.join(", ")}`,
  );
});

test("under palisade dev a counter keeps its value across a reload", async (t) => {
  const dir = countedApp(t);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const accepted = 'palisade_ingress_accepted_total{source="/events"}';
  const delivered = 'palisade_deliveries_total{fn="work",outcome="delivered"}';

  assert.equal((await post(`${dev.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);
  await dev.waitFor((l) => l.fn === "work" && l.msg === "worked" && l.n === 1);
  await dev.waitFor((l) => l.msg === "delivered");
  const before = await scrape(dev.url);
  assert.equal(sample(before, accepted), 1);
  assert.equal(sample(before, delivered), 1);

  // A change to the function reloads the platform (a new start in the same process).
  const handler = join(dir, "functions/work.ts");
  writeFileSync(handler, readFileSync(handler, "utf8").replace("'worked'", "'worked v2'"));
  const running = () => dev.lines.filter((l) => l.msg === "palisade is running").length;
  await dev.waitFor(() => running() === 2);

  assert.equal((await post(`${dev.url}/events`, { type: "job.queued", data: { n: 2 } })).status, 202);
  await dev.waitFor((l) => l.fn === "work" && l.msg === "worked v2" && l.n === 2);
  await dev.waitFor(() => dev.lines.filter((l) => l.msg === "delivered").length === 2);
  const after = await scrape(dev.url);
  assert.equal(sample(after, accepted), 2, "the counter went on from 1, not back to 0");
  assert.equal(sample(after, delivered), 2);
  // The process's own metrics are one set too: its start time did not move with the reload.
  assert.equal(sample(after, "process_start_time_seconds"), sample(before, "process_start_time_seconds"));
});
