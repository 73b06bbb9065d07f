import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { natsUnavailable, suiteNatsServer } from "../../../test/kit/nats-server.ts";
import { connectTo, freshApp, openTestStore, rawEvent, ref, takeUntil } from "./nats-test-kit.ts";

const skip = natsUnavailable();

describe("NATS delivery queue", { skip }, () => {
  const server = suiteNatsServer();

  test("deliveries move from pending to delivered or failed, retries come back after their delay", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), [
      { name: "f", on: ["t.x"] },
      { name: "g", on: ["t.*", "t.x"] },
    ]);
    const [a] = await store.append([rawEvent("e1")]);
    assert.deepEqual(await store.deliveries("e1"), [
      { target: "f", state: "pending", attempts: 0, lastError: null, seq: a?.seq },
      { target: "g", state: "pending", attempts: 0, lastError: null, seq: a?.seq },
    ]);
    const [f1] = await takeUntil(store, "f", 1);
    const g = await takeUntil(store, "g", 1);
    assert.equal(g.length, 1, "g's overlapping patterns deliver the event once");
    assert.ok(f1 && g[0]);
    assert.deepEqual([f1.seq, f1.attempts, f1.record.id], [a?.seq, 0, "e1"]);

    await store.settle(ref(f1), { kind: "retry", at: Date.now() + 400, error: "sealed:boom" });
    assert.deepEqual(await store.take("f", 10), [], "not before its delay");
    const [f2] = await takeUntil(store, "f", 1);
    assert.equal(f2?.attempts, 1);
    assert.ok(f2);
    await store.settle(ref(f2), { kind: "failed", reason: "attempts-exhausted", error: "sealed:again" });
    await store.settle(ref(g[0]), { kind: "delivered" });
    assert.deepEqual(await store.deliveries("e1"), [
      { target: "f", state: "failed", attempts: 2, lastError: "sealed:again", seq: a?.seq },
      { target: "g", state: "delivered", attempts: 1, lastError: null, seq: a?.seq },
    ]);
    const [dead] = await store.deadLetters(10);
    assert.deepEqual(
      { ...dead, at: 0 },
      {
        seq: a?.seq,
        eventId: "e1",
        type: "t.x",
        target: "f",
        attempts: 2,
        reason: "attempts-exhausted",
        error: "sealed:again",
        at: 0,
      },
    );
    assert.deepEqual(await store.stateCounts(), { pending: 0, failed: 1 });
    assert.equal(await store.nextDue(), undefined);
  });

  test("a requeue and a replay start a delivery over, keep earlier outcomes and the provenance", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), [{ name: "f", on: ["t.x"] }]);
    const [a] = await store.append([rawEvent("h1")]);
    assert.ok(a);
    assert.equal(await store.requeue(a.seq, "f"), false, "only a dead letter can be requeued");
    const [d1] = await takeUntil(store, "f", 1);
    assert.ok(d1);
    await store.settle(ref(d1), { kind: "failed", reason: "attempts-exhausted", error: "boom" });
    assert.equal(await store.requeue(a.seq, "f"), true);
    assert.equal(await store.requeue(a.seq, "f"), false, "it is no longer dead");
    assert.deepEqual(await store.deadLetters(10), []);
    assert.deepEqual(await store.deliveries("h1"), [
      { target: "f", state: "pending", attempts: 0, lastError: "boom", seq: a.seq },
    ]);
    const [d2] = await takeUntil(store, "f", 1);
    assert.ok(d2);
    assert.deepEqual([d2.seq, d2.attempts, d2.replay], [a.seq, 0, undefined]);
    await store.settle(ref(d2), { kind: "delivered" });

    await store.replay(a.seq, "f", { by: "ops", at: 1234 });
    const [d3] = await takeUntil(store, "f", 1);
    assert.deepEqual([d3?.seq, d3?.attempts, d3?.replay], [a.seq, 0, { by: "ops", at: 1234 }]);
    assert.deepEqual(
      (await store.history("h1")).map(({ target, state, attempts, lastError, reason }) => ({
        target,
        state,
        attempts,
        lastError,
        reason,
      })),
      [
        { target: "f", state: "failed", attempts: 1, lastError: "boom", reason: "attempts-exhausted" },
        { target: "f", state: "delivered", attempts: 1, lastError: null, reason: null },
      ],
    );
    assert.ok(d3);
    await store.settle(ref(d3), { kind: "delivered" });
    assert.deepEqual(await store.deliveries("h1"), [
      { target: "f", state: "delivered", attempts: 1, lastError: null, seq: a.seq },
    ]);
    await store.replay(a.seq, "f", { by: "ops", at: 5678 }, "sealed:not allowed");
    const [refused] = await store.deadLetters(10);
    assert.deepEqual(
      [refused?.reason, refused?.error, refused?.eventId],
      ["replay-refused", "sealed:not allowed", "h1"],
    );
    assert.deepEqual(await store.stateCounts(), { pending: 0, failed: 1 });
  });

  test("content-filter skips are acknowledged and leave no delivery behind", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), [{ name: "f", on: ["t.x"] }]);
    assert.equal(store.routesByContent, false);
    await store.append([rawEvent("s1")]);
    const [d] = await takeUntil(store, "f", 1);
    assert.ok(d);
    await store.settle(ref(d), { kind: "skipped" });
    assert.deepEqual(await store.deliveries("s1"), []);
    assert.deepEqual(await store.stateCounts(), { pending: 0, failed: 0 });
    assert.deepEqual(await store.deadLetters(10), []);
  });

  test("watch wakes when work arrives, including work appended by another node", async (t) => {
    const app = freshApp();
    const worker = await openTestStore(t, await connectTo(t, server.url), app, [{ name: "f", on: ["t.*"] }]);
    const gateway = await openTestStore(t, await connectTo(t, server.url), app, [{ name: "f", on: ["t.*"] }]);
    assert.deepEqual(await worker.take("f", 10), []);
    const woken = new Promise<void>((resolve) => {
      const stop = worker.watch(() => {
        stop();
        resolve();
      });
    });
    await gateway.append([rawEvent("w1", "t.y.z")]);
    await woken;
    const [d] = await worker.take("f", 10);
    assert.equal(d?.record.id, "w1");
  });

  test("a target added to a running app gets new events only", async (t) => {
    const app = freshApp();
    const nc = await connectTo(t, server.url);
    const first = await openTestStore(t, nc, app, [{ name: "f", on: ["t.x"] }]);
    await first.append([rawEvent("old")]);
    await first.close();
    const second = await openTestStore(t, nc, app, [
      { name: "f", on: ["t.x"] },
      { name: "g", on: ["t.x"] },
    ]);
    await second.append([rawEvent("new")]);
    assert.deepEqual(
      (await takeUntil(second, "f", 2)).map((d) => d.record.id),
      ["old", "new"],
    );
    const g = await takeUntil(second, "g", 1);
    assert.deepEqual(
      g.map((d) => d.record.id),
      ["new"],
    );
    assert.deepEqual(
      (await second.deliveries("old")).map((d) => d.target),
      ["f"],
    );
  });
});
