import assert from "node:assert/strict";
import { test } from "node:test";
import type { AmplificationPolicy } from "../manifest/index.ts";
import type { ChainEvent, Finding } from "../signals/index.ts";
import { createLineage, rootKey } from "./lineage.ts";

const HOLD: AmplificationPolicy = { maxPerRoot: 10_000, response: "hold" };

function setup(policy = HOLD, budget = 5, maxDepth?: number) {
  const findings: Finding[] = [];
  const lineage = createLineage({
    policy,
    budget: () => budget,
    maxDepth: (fn) => (fn === "loop" ? maxDepth : undefined),
    subscribers: () => 1,
    report: (f) => findings.push(f),
    now: () => 1_000,
  });
  return { lineage, findings };
}

const root: ChainEvent = { id: "r1", type: "order.created", principal: "shop", hop: 0 };
const child = (hop: number, id = `c${hop}`): ChainEvent => ({
  id,
  type: "order.step",
  principal: "function:loop",
  hop,
  rootid: "r1",
  rootprincipal: "shop",
});

test("a root's invocations and emits past its budget hold its further work, with one finding", () => {
  const { lineage, findings } = setup();
  // The root's own invocation counts 1; each emit counts itself and the one invocation it causes.
  assert.equal(lineage.verdict("f", root), "run");
  lineage.emitted("f", child(1, "e1"));
  lineage.emitted("f", child(1, "e2"));
  assert.equal(lineage.verdict("g", child(1)), "run", "5 of 5: at the budget, not past it");
  lineage.emitted("f", child(1, "e3"));
  assert.equal(lineage.verdict("g", child(1, "e3")), "wait");
  assert.equal(findings.length, 1);
  const [f] = findings;
  assert.equal(f?.detector, "lineage");
  assert.deepEqual(f?.scope, { kind: "root", name: "shop/r1" });
  assert.equal(f?.response, "hold");
  assert.equal(f?.evidence.invocationsAndEmits, 7);
  lineage.emitted("g", child(2, "e4"));
  assert.equal(findings.length, 1, "reported once per root");
  assert.deepEqual(lineage.held(), [{ root: "shop/r1", since: 1_000 }]);
  // Another root of the same sender, and the same id from another principal, are other chains.
  assert.equal(lineage.verdict("f", { ...root, id: "r2" }), "run");
  assert.equal(lineage.verdict("f", { ...root, principal: "other" }), "run");
});

test("asking again about the same delivery (a retry, an operator's replay) counts nothing", () => {
  const { lineage, findings } = setup(HOLD, 1);
  for (let i = 0; i < 10; i++) assert.equal(lineage.verdict("f", root), "run");
  assert.equal(findings.length, 0);
});

test("an event deeper than a function's recursion.maxDepth holds its root; shallower ones run", () => {
  const { lineage, findings } = setup(HOLD, 1000, 2);
  assert.equal(lineage.verdict("loop", child(2)), "run");
  assert.equal(lineage.verdict("other", child(3)), "run", "maxDepth is the looping function's");
  assert.equal(lineage.verdict("loop", child(3)), "wait");
  assert.equal(findings[0]?.evidence.maxDepth, 2);
  assert.equal(lineage.verdict("other", child(1)), "wait", "the whole chain waits");
});

test("release lets the chain run and never holds it again; discard dead-letters what comes", () => {
  const { lineage } = setup(HOLD, 1000, 0);
  assert.equal(lineage.verdict("loop", child(1)), "wait");
  lineage.release("shop/r1");
  assert.equal(lineage.verdict("loop", child(5)), "run");
  assert.deepEqual(lineage.held(), []);
  lineage.hold("shop/x", 5);
  assert.equal(lineage.verdict("f", { ...root, id: "x" }), "wait");
  lineage.discard("shop/x");
  assert.equal(lineage.verdict("f", { ...root, id: "x" }), "discard");
});

test("alert reports once and holds nothing; off counts nothing", () => {
  const alert = setup({ maxPerRoot: 10_000, response: "alert" }, 1);
  alert.lineage.verdict("f", root);
  alert.lineage.emitted("f", child(1));
  alert.lineage.emitted("f", child(1, "x"));
  assert.equal(alert.findings.length, 1);
  assert.equal(alert.findings[0]?.response, "alert");
  assert.equal(alert.lineage.verdict("g", child(1)), "run");
  const off = setup({ maxPerRoot: 10_000, response: "off" }, 1, 0);
  for (let i = 0; i < 10; i++) off.lineage.emitted("f", child(1, `o${i}`));
  assert.equal(off.lineage.verdict("loop", child(5)), "run");
  assert.equal(off.findings.length, 0);
});

test("maxPerRoot caps the graph's budget; a root first seen mid-chain gets maxPerRoot", () => {
  const { lineage, findings } = setup({ maxPerRoot: 3, response: "hold" }, 1_000_000);
  lineage.verdict("f", root);
  lineage.emitted("f", child(1, "a"));
  lineage.emitted("f", child(1, "b"));
  assert.equal(findings[0]?.evidence.budget, 3);
  const mid = setup({ maxPerRoot: 4, response: "hold" }, 1);
  mid.lineage.emitted("g", child(3));
  mid.lineage.emitted("g", child(3, "y"));
  assert.equal(mid.findings.length, 0, "budget 4 (maxPerRoot), not 1 (the root type's)");
  assert.equal(rootKey(child(3)), "shop/r1");
});
