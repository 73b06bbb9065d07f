import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../test/kit/seeded-random.ts";
import { type CostDriftPolicy, DEFAULT_DETECT } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createCostDrift, DRIFT_STEP_MS, ESCALATE_WINDOW_MS } from "./cost-drift.ts";

const random = seededRandom;

const policy = (over: Partial<CostDriftPolicy> = {}): CostDriftPolicy => ({
  ...DEFAULT_DETECT.costDrift,
  ...over,
});

const cost = (nanoUsd: number, principal = "alice", fn = "a"): SignalOf<"invocation.cost"> => ({
  kind: "invocation.cost",
  fn,
  eventId: "e",
  principal,
  nanoUsd,
  parts: { request: 200, compute: nanoUsd - 200, egress: 0, payload: 0, capabilityCalls: 0 },
});

/**
 * A detector and a clock in minutes. `minutes(n, perMinute, mean, principal)` sends `perMinute`
 * attempts in each of the next `n` minutes, the i-th costing about `mean` (or `mean(i)`), by
 * `principal(i)`, and returns the minute (counted from the call) of its first finding, if any.
 */
function detector(p: CostDriftPolicy = policy(), noise = 0.1) {
  const found: Finding[] = [];
  const drift = createCostDrift(p, (f) => found.push(f));
  const rnd = random(11);
  const clock = { minute: 0 };
  /** A cost around `mean`, uniform within ±noise. */
  const around = (mean: number) => mean * (1 + noise * (2 * rnd() - 1));
  const minutes = (
    n: number,
    perMinute: number,
    mean: number | ((i: number) => number),
    principal: (i: number) => string = () => "alice",
  ): number | undefined => {
    const before = found.length;
    let first: number | undefined;
    for (let m = 0; m < n; m++) {
      for (let i = 0; i < perMinute; i++)
        drift.cost(
          cost(around(typeof mean === "number" ? mean : mean(i)), principal(i)),
          clock.minute * DRIFT_STEP_MS + Math.floor((i * DRIFT_STEP_MS) / perMinute),
        );
      if (first === undefined && found.length > before) first = m;
      clock.minute += 1;
    }
    return first;
  };
  return { drift, found, minutes, clock };
}

test("response alert: a sustained +20 % cost per invocation is one finding within minutes, with its evidence; then the new level is the baseline", () => {
  const { found, minutes, clock } = detector(policy({ response: "alert" }));
  minutes(20, 10, 1000); // the warm-up: 200 attempts
  assert.equal(minutes(600, 10, 1000), undefined, "ten hours of ordinary noise");
  const half = (i: number) => (i % 2 === 0 ? "alice" : "mallory");
  assert.equal(minutes(30, 10, 1000, half), undefined, "the same cost from another principal is no drift");
  // Mallory's events now make each invocation do 40 % more: +20 % on the function's mean.
  const start = clock.minute;
  const at = minutes(30, 10, (i) => (i % 2 === 0 ? 1000 : 1400), half);
  assert.ok(at !== undefined && at <= 6, `found after ${at} minutes`);
  assert.equal(found.length, 1);
  const [f] = found;
  assert.deepEqual(
    [f?.detector, f?.scope, f?.severity, f?.response],
    ["cost-drift", { kind: "function", name: "a" }, "medium", "alert"],
  );
  const e = f?.evidence ?? {};
  assert.ok(Math.abs(Number(e.baselineMean) - 1000) < 15, `baseline ${e.baselineMean}`);
  assert.ok(Math.abs(Number(e.recentMean) - 1200) < 30, `recent ${e.recentMean}`);
  assert.ok(Math.abs(Number(e.shift) - 0.2) < 0.03, `shift ${e.shift}`);
  assert.ok(Number(e.cusum) >= 10);
  assert.deepEqual([e.threshold, e.slack, e.baselineInvocations], [10, 0.5, 200]);
  assert.ok(Number(e.windowSec) >= 180 && Number(e.windowSec) <= 420, `window ${e.windowSec}`);
  assert.ok(Date.parse(String(e.since)) >= start * DRIFT_STEP_MS);
  assert.deepEqual(e.principals, ["mallory", "alice"], "by spend in the drifting stretch");
  assert.match(
    f?.summary ?? "",
    /^Function "a" has cost \d+ % more per invocation than its baseline for about \d+ min/,
  );

  // The new level is learned (200 attempts), then kept without a finding; a further rise is one.
  assert.equal(minutes(200, 10, 1200), undefined);
  assert.equal(found.length, 1);
  assert.ok(minutes(30, 10, 1440) !== undefined, "+20 % again");
  assert.equal(found.length, 2);
  assert.ok((found[1]?.evidence.baselineMean as number) > 1150);
});

test("single spikes, a few expensive minutes and drift under slack × 5 % are no finding", () => {
  const { drift, found, minutes, clock } = detector(policy(), 0.3);
  minutes(20, 10, 1000);
  for (let i = 0; i < 20; i++) {
    minutes(59, 10, 1000);
    // One invocation a hundred times the usual price, in a minute of ten, once an hour.
    drift.cost(cost(100_000, "mallory"), clock.minute * DRIFT_STEP_MS);
    minutes(1, 9, 1000);
  }
  // A minute at five times the price, every two hours for a day: each adds at most 3 − slack.
  for (let i = 0; i < 12; i++) {
    minutes(119, 10, 1000);
    minutes(1, 10, 5000);
  }
  assert.equal(found.length, 0, found.map((f) => f.summary).join("\n"));
  // +1 % for a day at a thousand invocations a minute: the mean is precise, yet far under the slack.
  assert.equal(minutes(1440, 1000, 1010), undefined);
  assert.equal(found.length, 0);
});

test("a +5 % shift is found, later than a +50 % one; a quiet function judges each invocation", () => {
  const small = detector(policy(), 0.05);
  small.minutes(20, 10, 1000);
  small.minutes(60, 10, 1000);
  const slow = small.minutes(120, 10, 1050);
  assert.ok(slow !== undefined && slow >= 10 && slow <= 60, `+5 % after ${slow} minutes`);

  const large = detector(policy(), 0.05);
  large.minutes(20, 10, 1000);
  large.minutes(60, 10, 1000);
  const fast = large.minutes(120, 10, 1500);
  assert.ok(fast !== undefined && fast <= 4, `+50 % after ${fast} minutes`);

  // One invocation a minute with a 10 % spread: +30 % is found, a spike of 10× is not.
  const quiet = detector(policy(), 0.1);
  quiet.minutes(200, 1, 1000);
  quiet.minutes(1, 1, 10_000);
  assert.equal(quiet.minutes(300, 1, 1000), undefined);
  assert.ok(quiet.minutes(60, 1, 1300) !== undefined);
});

test("the warm-up learns whatever comes, and each function has its own baseline", () => {
  const { drift, found, minutes } = detector(policy({ warmup: 50, response: "alert" }));
  minutes(5, 10, 3000); // expensive from the start: that is its baseline
  minutes(60, 10, 3000);
  for (let m = 0; m < 60; m++) drift.cost(cost(10, "alice", "b"), m * DRIFT_STEP_MS);
  assert.equal(found.length, 0);
  for (let m = 60; m < 80; m++) drift.cost(cost(20, "alice", "b"), m * DRIFT_STEP_MS);
  assert.deepEqual(
    found.map((f) => f.scope.name),
    ["b"],
  );
});

test("response off reports nothing", () => {
  const { found, minutes } = detector(policy({ response: "off" }));
  minutes(20, 10, 1000);
  minutes(60, 10, 5000);
  assert.equal(found.length, 0);
});

test("response throttle: a lasting rise alerts, then throttles at the spend-neutral rate for throttleSec, then learns", () => {
  const { drift, found, minutes, clock } = detector(policy({ warmup: 100, throttleSec: 600 }));
  minutes(5, 30, 1_000_000); // warm-up: 30 a minute at 1 m nano-dollars
  assert.equal(found.length, 0);
  const first = minutes(15, 30, 2_000_000);
  assert.notEqual(first, undefined);
  assert.deepEqual(
    found.map((f) => f.response),
    ["alert", "throttle"],
    "the rise lasted: a second crossing of the same baseline throttles",
  );
  const [alert, throttle] = found as [Finding, Finding];
  assert.match(alert.summary, /if it lasts .* throttled/);
  assert.ok(throttle.at - alert.at <= ESCALATE_WINDOW_MS);
  // 30 starts a minute at twice the price: spend-neutral is about 15 a minute.
  const rate = throttle.evidence.ratePerSec as number;
  assert.ok(rate > 0.2 && rate < 0.3, `rate ${rate}/s`);
  // Spend-neutral: at the capped rate and the recent price it spends what 0.5/s cost at the baseline.
  const { baselineMean, recentMean } = throttle.evidence as { baselineMean: number; recentMean: number };
  const ratio = (rate * recentMean) / (0.5 * baselineMean);
  assert.ok(Math.abs(ratio - 1) < 0.01, `spend per second ${ratio} × the baseline's`);
  assert.equal(throttle.evidence.throttleSec, 600);
  assert.equal(throttle.evidence.until, new Date(throttle.at + 600_000).toISOString());
  assert.ok(Math.abs((drift.throttled("a", throttle.at + 1000) ?? 0) - rate) < 0.001);
  assert.equal(drift.throttled("b", throttle.at + 1000), undefined, "only that function");
  assert.equal(drift.throttled("a", throttle.at + 600_000), undefined, "for throttleSec");
  assert.match(throttle.summary, /its deliveries wait, pending, never dropped/);
  // The new level is learned: the same cost goes on without further findings.
  clock.minute += 1;
  minutes(30, 30, 2_000_000);
  assert.equal(found.length, 2);
});

test("response throttle: a rise that stops after the alert is not throttled; past the window the level is learned", () => {
  const { drift, found, minutes, clock } = detector(policy({ warmup: 100 }));
  minutes(5, 30, 1_000_000);
  for (let m = 0; m < 30 && found.length === 0; m++) minutes(1, 30, 2_000_000);
  assert.deepEqual(
    found.map((f) => f.response),
    ["alert"],
  );
  // Back to normal until the window has passed: the CUSUM stays near 0, no throttle.
  const alertedAt = (found[0] as Finding).at;
  while (clock.minute * DRIFT_STEP_MS <= alertedAt + ESCALATE_WINDOW_MS) minutes(1, 30, 1_000_000);
  assert.deepEqual(
    found.map((f) => f.response),
    ["alert"],
  );
  assert.equal(drift.throttled("a", clock.minute * DRIFT_STEP_MS), undefined);
  // The first minute judged past the window ends the escalation: the baseline is learned again from
  // the attempts that follow, whatever they cost (here three times the old baseline).
  minutes(34, 30, 3_000_000);
  assert.equal(found.length, 1, "3 m nano-dollars is the new baseline, not a rise over 1 m");
  assert.notEqual(minutes(30, 30, 6_000_000), undefined);
  assert.equal(found[1]?.response, "alert", "a new rise alerts first again: the old escalation is over");
});

test("response throttle: a second crossing judged only after the window (a sparse function) alerts, never throttles", () => {
  const found: Finding[] = [];
  const drift = createCostDrift(policy({ warmup: 100 }), (f) => found.push(f));
  const at = (minute: number, i = 0) => minute * DRIFT_STEP_MS + i * 1000;
  for (let m = 0; m < 4; m++) for (let i = 0; i < 30; i++) drift.cost(cost(1_000_000), at(m, i));
  // One attempt a minute at twice the price: each judged minute adds 3 − 0.5 to the CUSUM.
  let minute = 4;
  for (; found.length === 0 && minute < 20; minute++) drift.cost(cost(2_000_000), at(minute));
  assert.equal(found[0]?.response, "alert");
  const alerted = minute - 1;
  // Three judged minutes build the CUSUM to 7.5 within the window ...
  for (const m of [57, 58, 59]) drift.cost(cost(2_000_000), at(alerted + m));
  assert.equal(found.length, 1);
  // ... and the minute that crosses is judged only by an attempt past it.
  drift.cost(cost(2_000_000), at(alerted + 62));
  assert.deepEqual(
    found.map((f) => f.response),
    ["alert", "alert"],
  );
  assert.match((found[1] as Finding).summary, /learns its baseline again/);
  assert.equal(drift.throttled("a", at(alerted + 62)), undefined);
});

test("response alert reports each finding and learns the new level; it never throttles", () => {
  const { drift, found, minutes } = detector(policy({ warmup: 100, response: "alert" }));
  minutes(5, 30, 1_000_000);
  minutes(30, 30, 2_000_000);
  assert.deepEqual(
    found.map((f) => f.response),
    ["alert"],
  );
  assert.match((found[0] as Finding).summary, /learns its baseline again/);
  assert.equal(drift.throttled("a", 0), undefined);
});
