import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { createAdmission } from "./admission.ts";
import { openSqliteStore } from "./index.ts";

function sharedState(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "palisade-admission-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, "events.db"), { subscriptions: [] });
  t.after(() => store.close());
  return store.state;
}

const noop = () => undefined;

test("a throttle caps a target's starts at its rate, says it holds, and says when to look again; it ends on its own", async (t) => {
  let rate: number | undefined = 2; // per second
  const admission = createAdmission(sharedState(t), new Map(), noop, noop, (target) =>
    target === "slow" ? rate : undefined,
  );
  const at = 1_000_000;
  assert.equal(await admission.allowance("slow", at), 2, "a burst of max(1, ceil(rate))");
  assert.equal(
    await admission.take("slow", 5, at),
    5,
    "take grants what allowance allowed (the dispatcher asks first)",
  );
  assert.equal(await admission.allowance("slow", at), 0);
  assert.equal(admission.holding("slow"), "throttle");
  assert.equal(admission.nextChance("slow", at), at + 2000, "3 tokens short at 2/s");
  assert.equal(await admission.allowance("slow", at + 2000), 1);
  assert.equal(
    await admission.allowance("fast", at),
    Number.POSITIVE_INFINITY,
    "other targets are not throttled",
  );
  rate = undefined;
  assert.equal(await admission.allowance("slow", at + 2000), Number.POSITIVE_INFINITY, "the throttle ended");
  assert.equal(admission.holding("slow"), undefined);
});

test("a throttle lowers a target's own rate limit, never raises it", async (t) => {
  const admission = createAdmission(
    sharedState(t),
    new Map([["f", { ratePerSec: 1 }]]),
    noop,
    noop,
    () => 10,
  );
  const at = 5_000_000;
  assert.equal(await admission.allowance("f", at), 1, "its own 1/s binds before the throttle's 10/s");
  await admission.take("f", 1, at);
  assert.equal(admission.holding("f"), "rate_limit");
  const slower = createAdmission(
    sharedState(t),
    new Map([["f", { ratePerSec: 100 }]]),
    noop,
    noop,
    () => 0.5,
  );
  assert.equal(await slower.allowance("f", at), 1);
  await slower.take("f", 1, at);
  assert.equal(await slower.allowance("f", at + 1000), 0, "half a token a second");
  assert.equal(slower.holding("f"), "throttle");
  assert.equal(await slower.allowance("f", at + 2000), 1);
});

test("with its own rate limit and a throttle both short, a target looks again when both have a token", async (t) => {
  const admission = createAdmission(
    sharedState(t),
    new Map([["f", { ratePerSec: 1, burst: 1 }]]),
    noop,
    noop,
    () => 0.25,
  );
  const at = 9_000_000;
  assert.equal(await admission.allowance("f", at), 1);
  assert.equal(await admission.take("f", 1, at), 1);
  assert.equal(await admission.allowance("f", at), 0);
  assert.equal(admission.holding("f"), "rate_limit", "its own limit is named first");
  assert.equal(admission.nextChance("f", at), at + 4000, "1 s for its own bucket, 4 s for the throttle's");
  assert.equal(await admission.allowance("f", at + 1000), 0);
  assert.equal(admission.holding("f"), "throttle", "its own bucket refilled: the throttle holds it now");
  assert.equal(admission.nextChance("f", at + 1000), at + 4000);
  assert.equal(await admission.allowance("f", at + 4000), 1);
  assert.equal(admission.holding("f"), undefined);
});
