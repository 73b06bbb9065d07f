import assert from "node:assert/strict";
import { test } from "node:test";
import type { CloudEvent } from "../events/index.ts";
import { createRecentEvents } from "./recent-events.ts";

const event = (id: string) => ({ specversion: "1.0", id, source: "/t", type: "t.x" }) as CloudEvent;

test("keeps the newest events up to its count, evicting the oldest first", () => {
  const recent = createRecentEvents(4);
  for (let seq = 1; seq <= 10; seq += 1) recent.remember(seq, event(`e${seq}`), 10);
  assert.deepEqual(
    [5, 6, 7, 8, 9, 10].map((s) => recent.get(s)?.id),
    [undefined, undefined, "e7", "e8", "e9", "e10"],
  );
});

test("a position remembered again replaces its event without taking a second place", () => {
  const recent = createRecentEvents(3);
  recent.remember(1, event("a"), 10);
  recent.remember(2, event("b"), 10);
  recent.remember(2, event("b2"), 10);
  recent.remember(3, event("c"), 10);
  assert.equal(recent.get(1)?.id, "a", "three positions fit in three places");
  assert.equal(recent.get(2)?.id, "b2");
  recent.remember(4, event("d"), 10);
  assert.equal(recent.get(1), undefined);
  assert.equal(recent.get(4)?.id, "d");
});

test("large events are not kept and the byte bound evicts the oldest", () => {
  const recent = createRecentEvents(1_000_000);
  recent.remember(1, event("huge"), 16 * 1024 + 1);
  assert.equal(recent.get(1), undefined);
  // 32 MiB of 16 KiB events is 2,048 of them: the 2,049th pushes out the first.
  for (let seq = 2; seq <= 2050; seq += 1) recent.remember(seq, event(`e${seq}`), 16 * 1024);
  assert.equal(recent.get(2), undefined);
  assert.equal(recent.get(3)?.id, "e3");
  assert.equal(recent.get(2050)?.id, "e2050");
});

test("stays correct through many times its capacity of churn", () => {
  const recent = createRecentEvents(1000);
  for (let seq = 1; seq <= 200_000; seq += 1) recent.remember(seq, event(`e${seq}`), 100);
  assert.equal(recent.get(199_000), undefined);
  assert.equal(recent.get(199_001)?.id, "e199001");
  assert.equal(recent.get(200_000)?.id, "e200000");
});
