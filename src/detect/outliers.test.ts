import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../test/kit/seeded-random.ts";
import type { OutliersPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createOutliers } from "./outliers.ts";

const random = seededRandom;

const policy = (over: Partial<OutliersPolicy> = {}): OutliersPolicy => ({
  factor: 5,
  warmup: 200,
  windowSec: 600,
  response: "alert",
  ...over,
});

let seq = 0;
const settled = (
  durationMs: number | undefined,
  payloadBytes: number | undefined,
  fn = "a",
  attempt = 1,
): SignalOf<"invocation.settled"> => ({
  kind: "invocation.settled",
  fn,
  eventId: `e${++seq}`,
  type: "job.queued",
  attempt,
  outcome: "delivered",
  principal: "mallory",
  ...(durationMs === undefined ? {} : { durationMs }),
  ...(payloadBytes === undefined ? {} : { payloadBytes }),
});

/** A detector, and a clock that advances one second per benign observation. */
function detector(p: OutliersPolicy = policy()) {
  const found: Finding[] = [];
  const outliers = createOutliers(p, (f) => found.push(f));
  const rnd = random(42);
  const clock = { now: 1_000_000 };
  /** `count` ordinary attempts of `fn`: 20..60 ms, 500..1500 bytes (or `scale` times that). */
  const benign = (count: number, fn = "a", scale = 1) => {
    for (let i = 0; i < count; i++) {
      clock.now += 1000;
      outliers.settled(settled(scale * (20 + 40 * rnd()), scale * (500 + 1000 * rnd()), fn), clock.now);
    }
  };
  return { outliers, found, benign, clock, rnd };
}

test("after the warm-up a ×50 payload and a long run are one finding each, with their evidence", () => {
  const { outliers, found, benign, clock } = detector();
  benign(1200);
  assert.equal(found.length, 0, "benign noise");
  const big = settled(40, 75_000);
  outliers.settled(big, clock.now);
  assert.equal(found.length, 1);
  const [f] = found;
  assert.equal(f?.detector, "outliers");
  assert.deepEqual(f?.scope, { kind: "function", name: "a" });
  assert.deepEqual([f?.severity, f?.response, f?.at], ["low", "alert", clock.now]);
  const e = f?.evidence ?? {};
  assert.deepEqual(
    [e.metric, e.value, e.eventId, e.principal, e.observations, e.factor, e.windowSec],
    ["payloadBytes", 75_000, big.eventId, "mallory", 1200, 5, 600],
  );
  assert.ok(Number(e.p99) > 1400 && Number(e.p99) <= 1500, `p99 ${e.p99}`);
  assert.ok(Number(e.p50) > 900 && Number(e.p50) < 1100, `p50 ${e.p50}`);
  assert.match(
    f?.summary ?? "",
    /^Function "a" was given 75000 bytes of event data in event "e\d+": 5\d times its p99/,
  );

  outliers.settled(settled(40, 150_000), clock.now + 1000);
  assert.equal(found.length, 1, "once per function and measure within the window");
  outliers.settled(settled(40, 900_000, "b"), clock.now + 1000);
  assert.equal(found.length, 1, "another function still warming up");

  // The same attempt far over both: two findings (the window is per measure) at distinct times.
  const both = settled(5000, 100_000);
  outliers.settled(both, clock.now + 600_000);
  assert.deepEqual(
    found.slice(1).map((x) => [x.evidence.metric, x.evidence.value, x.evidence.eventId, x.at]),
    [
      ["durationMs", 5000, both.eventId, clock.now + 600_000],
      ["payloadBytes", 100_000, both.eventId, clock.now + 600_001],
    ],
  );
  assert.match(
    found[1]?.summary ?? "",
    /^Function "a" ran 5000 ms for event "e\d+": \d+ times its p99 of \d+(\.\d)? ms/,
  );
});

test("nothing is judged during the warm-up", () => {
  const { outliers, found, benign, clock } = detector(policy({ warmup: 50 }));
  benign(30);
  outliers.settled(settled(10_000, 1_000_000), clock.now);
  benign(19); // 50 observations now
  assert.equal(found.length, 0);
  outliers.settled(settled(100_000, 10_000_000), clock.now + 1);
  assert.equal(found.length, 2, "judged from the 51st on");
});

test("moderate spikes and tiny functions' jitter are no finding (factor and floors)", () => {
  const { outliers, found, benign, clock, rnd } = detector();
  benign(300);
  for (let i = 0; i < 50; i++) {
    benign(20);
    // Three times the p99, often: unusual, not an outlier.
    outliers.settled(settled(180, 4500), clock.now);
  }
  // A function of 1..2 ms and 50..100 bytes: 200 and 40 times that are still under the floors.
  for (let i = 0; i < 300; i++) outliers.settled(settled(1 + rnd(), 50 + 50 * rnd(), "tiny"), i);
  outliers.settled(settled(400, 4000, "tiny"), 400);
  assert.equal(found.length, 0, found.map((f) => f.summary).join("\n"));
  outliers.settled(settled(600, 8000, "tiny"), 401);
  assert.deepEqual(
    found.map((f) => [f.scope.name, f.evidence.metric]),
    [
      ["tiny", "durationMs"],
      ["tiny", "payloadBytes"],
    ],
    "past the floors it is an outlier",
  );
});

test("rare outliers do not drag the baseline up; a lasting change is learned, not reported forever", () => {
  const { outliers, found, benign, clock } = detector(policy({ windowSec: 60 }));
  benign(1000);
  // One huge payload every 200 attempts (0.5 %), for 20,000 attempts: each reported.
  for (let i = 0; i < 100; i++) {
    benign(199);
    outliers.settled(settled(40, 1_000_000), clock.now);
  }
  assert.equal(found.length, 100, "every one reported: the baseline did not grow to take them in");
  assert.ok(Number(found.at(-1)?.evidence.p99) < 1600, `p99 ${found.at(-1)?.evidence.p99}`);

  // Every event twenty times as big from now on (a new client, say): reported at first, then learned.
  found.length = 0;
  benign(20_000, "a", 20);
  assert.ok(found.length >= 1, "the change is reported");
  const last = found.at(-1)?.at ?? 0;
  assert.ok(last < clock.now - 10_000 * 1000, `still reporting after ${found.length} findings`);
});

test("a retry's payload is not observed again, its duration is; attempts that did not run are ignored", () => {
  const { outliers, found, benign, clock } = detector();
  benign(300);
  outliers.settled(settled(undefined, undefined), clock.now);
  outliers.settled(settled(40, 1_000_000, "a", 2), clock.now);
  assert.equal(found.length, 0);
  outliers.settled(settled(9000, 1000, "a", 3), clock.now);
  assert.deepEqual(
    found.map((f) => [f.evidence.metric, f.evidence.attempt]),
    [["durationMs", 3]],
  );
});

test("response off reports nothing", () => {
  const { outliers, found, benign, clock } = detector(policy({ response: "off" }));
  benign(300);
  outliers.settled(settled(100_000, 10_000_000), clock.now);
  assert.equal(found.length, 0);
});
