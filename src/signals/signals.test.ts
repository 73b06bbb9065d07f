import assert from "node:assert/strict";
import { test } from "node:test";
import { createSignals, type Signal } from "./signals.ts";

const held: Signal = { kind: "delivery.held", fn: "f", hold: "quarantine" };

test("a signal reaches every listener of its kind, in order; a listener that throws breaks no one", () => {
  const failures: string[] = [];
  const signals = createSignals((err, kind) => failures.push(`${kind}: ${(err as Error).message}`));
  const got: string[] = [];
  signals.on("delivery.held", () => {
    throw new Error("broken sink");
  });
  const stop = signals.on("delivery.held", (s) => got.push(`a:${s.fn}`));
  signals.on("delivery.held", (s) => got.push(`b:${s.hold}`));
  signals.on("capability.used", () => got.push("wrong kind"));
  signals.emit(held);
  assert.deepEqual(got, ["a:f", "b:quarantine"]);
  assert.deepEqual(failures, ["delivery.held: broken sink"]);
  stop();
  signals.emit(held);
  assert.deepEqual(got, ["a:f", "b:quarantine", "b:quarantine"], "a stopped listener hears nothing");
});
