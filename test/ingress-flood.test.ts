/**
 * Detector 4, ingress floods per principal, against a running platform (real HTTP on loopback): a
 * principal whose accepted events in one window pass `factor` × its median is throttled to its
 * baseline rate (429 with Retry-After); the events it sent are all kept and delivered; another
 * principal is not touched.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { post, TEST_KEY } from "./kit/http.ts";
import { OTHER_KEY, startTwoSenderApp, twoSenders } from "./kit/two-senders.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BATCH = "application/cloudevents-batch+json";

const APP = `name: floods
events:
  job.queued: { schema: schemas/n.json }
${twoSenders(["job.queued"], ["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    limits: { concurrency: 4 }
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
detect:
  ingressFlood: { windowSec: 1, baselineWindows: 10, warmupWindows: 3, factor: 5, minEvents: 20, throttleSec: 60 }
`;

test("a principal flooding past 5× its median is throttled to its baseline rate; nothing it sent is lost; others are not touched", async (t) => {
  const { logs, platform } = await startTwoSenderApp(t, {
    "palisade.yaml": APP,
    "functions/work.ts": 'export default (e, ctx) => ctx.log.info("worked", { n: e.data.n });',
    "functions/watcher.ts":
      'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, kind: e.data.scope.kind, scope: e.data.scope.name, response: e.data.response, rate: e.data.evidence.throttledToPerSecond });',
  });
  const url = `${platform.url}/events`;
  const accepted: number[] = [];
  let n = 0;
  const one = async (key = TEST_KEY) => {
    const m = ++n;
    const res = await post(url, { type: "job.queued", data: { n: m } }, "application/json", key);
    if (res.status === 202) accepted.push(m);
    return res;
  };

  // Baseline: about 2 events a second, for more than the warm-up's 3 windows.
  for (let i = 0; i < 12; i++) {
    assert.equal((await one()).status, 202);
    await sleep(500);
  }
  // A flood: 60 events in one request, past max(20, 5 × 2).
  const flood = Array.from({ length: 60 }, () => ++n);
  const res = await post(
    url,
    JSON.stringify(
      flood.map((m) => ({
        specversion: "1.0",
        id: `f${m}`,
        source: "test",
        type: "job.queued",
        data: { n: m },
      })),
    ),
    BATCH,
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  accepted.push(...flood);
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual(
    [seen.detector, seen.kind, seen.scope, seen.response],
    ["ingress-flood", "principal", "tester", "throttle"],
  );
  assert.ok(Number(seen.rate) >= 1 && Number(seen.rate) <= 3, `throttled to ${seen.rate}/s`);

  // Throttled: a burst of requests past its baseline rate is refused with 429 and Retry-After.
  const burst = await Promise.all(Array.from({ length: 10 }, () => one()));
  const refused = burst.filter((r) => r.status === 429);
  assert.ok(refused.length >= 5, `${refused.length} of 10 refused`);
  assert.equal(refused[0]?.body.error.code, "PAL_GATEWAY_RATE_LIMITED");
  assert.ok(Number(refused[0]?.headers.get("retry-after")) >= 1);
  // Another principal keeps its own limit.
  const theirs = await Promise.all(Array.from({ length: 10 }, () => one(OTHER_KEY)));
  assert.deepEqual(
    theirs.map((r) => r.status),
    Array.from({ length: 10 }, () => 202),
  );

  // Every accepted event ran once: throttling refuses new requests, it never drops accepted ones.
  const worked = () =>
    logs.lines.filter((l) => l.fn === "work" && l.msg === "worked").map((l) => l.n as number);
  const until = Date.now() + 15_000;
  while (worked().length < accepted.length && Date.now() < until) await sleep(50);
  assert.deepEqual(
    worked().sort((a, b) => a - b),
    [...accepted].sort((a, b) => a - b),
  );
});
