import assert from "node:assert/strict";
import { test } from "node:test";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createDeniedBurst } from "./denied-burst.ts";

const denied = (fn: string, n: number, principal = "p"): SignalOf<"capability.denied"> => ({
  kind: "capability.denied",
  fn,
  capability: "secret",
  target: `S${n}`,
  reason: "not granted",
  eventId: `e${n}`,
  principal,
  grant: true,
});

test("a burst within the window is one finding, with its evidence; slower denials are none", () => {
  const found: Finding[] = [];
  const d = createDeniedBurst({ denials: 3, windowSec: 10, response: "quarantine" }, (f) => found.push(f));
  d.observe(denied("a", 1), 0);
  d.observe(denied("a", 2), 6_000);
  d.observe(denied("a", 3), 12_000); // the first fell out of the window: two within 10 s
  assert.equal(found.length, 0);
  d.observe(denied("b", 1), 12_500); // another function's denial does not count for "a"
  assert.equal(found.length, 0);
  d.observe(denied("a", 4), 13_000);
  assert.equal(found.length, 1);
  const [f] = found;
  assert.deepEqual(f?.scope, { kind: "function", name: "a" });
  assert.equal(f?.response, "quarantine");
  assert.deepEqual(f?.evidence.eventIds, ["e2", "e3", "e4"]);
  assert.deepEqual(f?.evidence.targets, ["S2", "S3", "S4"]);
  for (let n = 5; n < 20; n++) d.observe(denied("a", n), 13_000 + n);
  assert.equal(found.length, 1, "reported once until reset");
  d.reset("a");
  for (let n = 20; n < 23; n++) d.observe(denied("a", n), 20_000);
  assert.equal(found.length, 2, "after a reset a new burst is a new finding");
});

test("refusals for what a call carried (not for a grant) do not count: an event's data can cause those", () => {
  const found: Finding[] = [];
  const d = createDeniedBurst({ denials: 2, windowSec: 10, response: "quarantine" }, (f) => found.push(f));
  for (let n = 0; n < 10; n++) d.observe({ ...denied("a", n), grant: false }, n);
  assert.equal(found.length, 0);
  d.observe(denied("a", 10), 20);
  d.observe(denied("a", 11), 21);
  assert.equal(found.length, 1);
});

test("the same refused target again is not probing (a deploy lacking one grant): only distinct targets count", () => {
  const found: Finding[] = [];
  const d = createDeniedBurst({ denials: 3, windowSec: 10, response: "quarantine" }, (f) => found.push(f));
  for (let n = 0; n < 50; n++) d.observe({ ...denied("a", n), target: "LEDGER_KEY_V2" }, n * 100);
  d.observe({ ...denied("a", 60), target: "OTHER" }, 5_100);
  assert.equal(found.length, 0, "two distinct targets within the window");
  d.observe({ ...denied("a", 61), capability: "egress", target: "OTHER" }, 5_200);
  assert.equal(found.length, 1, "a capability with the same target name is another pair");
  assert.deepEqual(found[0]?.evidence.targets, ["LEDGER_KEY_V2", "OTHER"]);
  assert.deepEqual(found[0]?.evidence.eventIds, ["e49", "e60", "e61"], "each pair's latest refusal");
});

test("a pair refused again counts from its latest refusal", () => {
  const found: Finding[] = [];
  const policy = { denials: 3, windowSec: 10, response: "quarantine" as const };
  const once = createDeniedBurst(policy, (f) => found.push(f));
  once.observe(denied("a", 1), 0);
  once.observe(denied("a", 2), 5_000);
  once.observe(denied("a", 3), 14_000); // S1 fell out of the window
  assert.equal(found.length, 0);
  const again = createDeniedBurst(policy, (f) => found.push(f));
  again.observe(denied("a", 1), 0);
  again.observe(denied("a", 2), 5_000);
  again.observe(denied("a", 1), 9_000); // S1 again: in the window until 19 s
  again.observe(denied("a", 3), 14_000);
  assert.equal(found.length, 1);
});

test("in alert mode a function still probing is reported again once a window has passed", () => {
  const found: Finding[] = [];
  const d = createDeniedBurst({ denials: 2, windowSec: 10, response: "alert" }, (f) => found.push(f));
  for (let n = 0; n < 6; n++) d.observe(denied("a", n), n * 1000);
  assert.equal(found.length, 1, "once within the window");
  d.observe(denied("a", 20), 12_000);
  d.observe(denied("a", 21), 12_500);
  assert.equal(found.length, 2);
});

test("response off reports nothing; alert reports without a quarantine", () => {
  const found: Finding[] = [];
  const off = createDeniedBurst({ denials: 1, windowSec: 10, response: "off" }, (f) => found.push(f));
  off.observe(denied("a", 1));
  assert.equal(found.length, 0);
  const alert = createDeniedBurst({ denials: 1, windowSec: 10, response: "alert" }, (f) => found.push(f));
  alert.observe(denied("a", 1));
  assert.equal(found[0]?.response, "alert");
});
