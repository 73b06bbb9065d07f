import assert from "node:assert/strict";
import { test } from "node:test";
import { createTraceAdmission, TRACES_PER_SECOND } from "./stored-span.ts";

test("at most TRACES_PER_SECOND new traces a second, each kept or refused whole", (t) => {
  t.mock.timers.enable({ apis: ["Date"], now: 0 });
  const admit = createTraceAdmission();
  const ids = Array.from({ length: TRACES_PER_SECOND + 50 }, (_, i) => `trace-${i}`);
  const first = ids.map(admit);
  assert.equal(first.filter(Boolean).length, TRACES_PER_SECOND);
  assert.deepEqual(ids.map(admit), first, "later spans of a trace get the same answer");
  t.mock.timers.tick(1000);
  assert.deepEqual(ids.map(admit), first, "still the same answer in the next second");
  assert.equal(admit("new-trace"), true, "a new second has a new budget");
});

test("through a flood of refused traces the admitted ones stay admitted", (t) => {
  t.mock.timers.enable({ apis: ["Date"], now: 0 });
  const admit = createTraceAdmission();
  assert.equal(admit("kept"), true);
  for (let i = 0; i < TRACES_PER_SECOND - 1; i += 1) admit(`early-${i}`);
  for (let i = 0; i < 50_000; i += 1) assert.equal(admit(`flood-${i}`), false);
  assert.equal(admit("kept"), true);
  t.mock.timers.tick(1000);
  assert.equal(admit("flood-49999"), false, "a recent refusal is remembered");
  assert.equal(admit("flood-0"), true, "the memory is bounded: the oldest refusal was forgotten");
});
