import assert from "node:assert/strict";
import { test } from "node:test";
import { createCrashBreaker } from "./crash-breaker.ts";

const policy = { initialDelayMs: 100, maxDelayMs: 400, crashes: 4, windowMs: 10_000, coolDownMs: 5000 };

test("each crash in a row doubles the delay before the next start, up to the maximum", () => {
  const b = createCrashBreaker({ ...policy, crashes: 100 });
  assert.equal(b.delay(0), 0);
  const delays = [1, 2, 3, 4, 5].map((i) => {
    b.crashed(i * 1000);
    return b.delay(i * 1000);
  });
  assert.deepEqual(delays, [100, 200, 400, 400, 400]);
  assert.equal(b.delay(5000 + 150), 250, "counted from the last crash");
  assert.equal(b.delay(5000 + 400), 0);
});

test("an invocation that completes resets the backoff", () => {
  const b = createCrashBreaker(policy);
  b.crashed(0);
  b.crashed(10);
  b.worked();
  b.crashed(20);
  assert.equal(b.delay(20), 100);
});

test("the circuit opens at the Nth crash within the window, holds for the cool-down, then lets one trial through", () => {
  const b = createCrashBreaker(policy);
  assert.deepEqual([b.crashed(0), b.crashed(1000), b.crashed(2000)], [undefined, undefined, undefined]);
  assert.equal(b.isOpen(2000), false);
  assert.equal(b.crashed(3000), "opened");
  assert.equal(b.isOpen(3000), true);
  assert.equal(b.delay(3000), 5000);
  assert.equal(b.isOpen(8000), false);
  assert.equal(b.tripped(), true, "still tripped until an invocation completes");
  assert.equal(b.delay(8000), 0, "the trial start goes at once");
  assert.equal(b.worked(), "closed");
  assert.equal(b.tripped(), false);
});

test("a crashing trial opens the circuit again without reporting it twice", () => {
  const b = createCrashBreaker(policy);
  for (const at of [0, 1, 2]) b.crashed(at);
  assert.equal(b.crashed(3), "opened");
  assert.equal(b.crashed(6000), undefined);
  assert.equal(b.isOpen(6000), true);
  assert.equal(b.delay(6000), 5000);
});

test("crashes spread wider than the window do not open the circuit", () => {
  const b = createCrashBreaker({ ...policy, maxDelayMs: 100 });
  for (let i = 0; i < 20; i++) assert.equal(b.crashed(i * 4000), undefined);
  assert.equal(b.tripped(), false);
});
