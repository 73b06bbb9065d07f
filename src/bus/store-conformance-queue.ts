import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { eventRecordOf } from "./store.ts";
import {
  createTestSealer,
  event,
  eventually,
  idsOf,
  type NewStore,
  opened,
  refOf,
  SUBS,
  takeN,
} from "./store-conformance-kit.ts";

/** Routing, the delivery queue (take, settle, DLQ, replay, requeue, history, watch) and encryption. */
export async function runQueueConformance(t: TestContext, newStore: NewStore): Promise<void> {
  await t.test("events are routed by type pattern and content filter, and only there", async (t) => {
    const store = await opened(t, newStore());
    await store.events.append([
      event(1, "x1"),
      event(2, "x2"),
      event(3, "y3", "p", "test", "t.y"),
      event(4, "z4", "p", "test", "u.z"),
    ]);
    assert.deepEqual(idsOf(await takeN(store, "f", 3)), ["x1", "x2", "y3"]);
    assert.deepEqual(idsOf(await takeN(store, "g", 1)), ["x2"], "g's filter wants n > 1");
    assert.deepEqual(idsOf(await takeN(store, "h", 1)), ["y3"]);
    assert.deepEqual(await store.queue.deliveries("z4"), [], "nobody subscribes to u.z");
    assert.deepEqual(
      (await store.queue.deliveries("x1")).map((d) => d.target),
      ["f"],
    );
    assert.deepEqual(await store.queue.take("nobody", 10), []);
  });

  await t.test("take claims work: a second take does not return it until it is settled", async (t) => {
    const store = await opened(t, newStore());
    await store.events.append([event(1, "c1"), event(2, "c2")]);
    const [one] = await takeN(store, "f", 1);
    const [two] = await takeN(store, "f", 1);
    assert.deepEqual(idsOf([one, two].flatMap((d) => (d ? [d] : []))), ["c1", "c2"], "limit respected");
    assert.deepEqual(await store.queue.take("f", 10), []);
    assert.ok(one !== undefined && "event" in one);
    assert.equal(one.attempts, 0);
    await store.queue.settle(refOf(one), { kind: "delivered" });
    assert.deepEqual(await store.queue.take("f", 10), [], "a delivered one does not come back");
  });

  await t.test("a delivery given back unattempted is taken again, its attempts unchanged", async (t) => {
    const store = await opened(t, newStore());
    await store.events.append([event(1, "b1"), event(2, "b2")]);
    const taken = await takeN(store, "f", 2);
    assert.deepEqual(idsOf(taken), ["b1", "b2"]);
    for (const d of taken) store.queue.giveBack(refOf(d));
    const again = await takeN(store, "f", 2);
    assert.deepEqual(idsOf(again), ["b1", "b2"], "in order, each once");
    assert.deepEqual(
      again.map((d) => ("event" in d ? d.attempts : -1)),
      [0, 0],
    );
    assert.deepEqual(
      (await store.queue.deliveries("b1")).map((s) => s.state),
      ["pending"],
    );
    // Given back once more, then an attempt that fails: the next take counts that one attempt only.
    const [b1] = again;
    assert.ok(b1 !== undefined);
    store.queue.giveBack(refOf(b1));
    const [third] = await takeN(store, "f", 1);
    assert.ok(third !== undefined && "event" in third && third.event.id === "b1");
    assert.equal(third.attempts, 0);
    await store.queue.settle(refOf(third), { kind: "retry", at: Date.now(), error: "boom" });
    const [fourth] = await takeN(store, "f", 1); // b2 is still taken
    assert.ok(fourth !== undefined && "event" in fourth && fourth.event.id === "b1");
    assert.equal(fourth.attempts, 1, "give-backs are not attempts, before or after a retry");
  });

  await t.test(
    "a retry is not taken before its time and is taken after it, with the attempt counted",
    async (t) => {
      const store = await opened(t, newStore());
      await store.events.append([event(1, "r1", "p", "test", "t.y")]);
      const [d] = await takeN(store, "h", 1);
      assert.ok(d !== undefined);
      const at = Date.now() + 700;
      await store.queue.settle(refOf(d), { kind: "retry", at, error: "boom" });
      assert.deepEqual(await store.queue.take("h", 10), [], "not before its time");
      const due = await store.queue.nextDue();
      assert.ok(due === undefined || due <= at + 1, "nextDue names the retry (or the backend pushes)");
      const [again] = await takeN(store, "h", 1);
      assert.ok(Date.now() >= at, "taken only once due");
      assert.ok(again !== undefined && "event" in again);
      assert.equal(again.attempts, 1);
      assert.deepEqual(
        (await store.queue.deliveries("r1")).filter((s) => s.target === "h"),
        [{ target: "h", state: "pending", attempts: 1, lastError: "boom" }],
      );
    },
  );

  await t.test(
    "a failed delivery is dead-lettered with its reason and error; the other target's is not",
    async (t) => {
      const store = await opened(t, newStore());
      const [a] = await store.events.append([event(2, "e1")]);
      const [f] = await takeN(store, "f", 1);
      const [g] = await takeN(store, "g", 1);
      assert.ok(f !== undefined && g !== undefined);
      await store.queue.settle(refOf(f), {
        kind: "failed",
        reason: "attempts-exhausted",
        error: "boom again",
      });
      await store.queue.settle(refOf(g), { kind: "delivered" });
      assert.deepEqual(await store.queue.deliveries("e1"), [
        { target: "f", state: "failed", attempts: 1, lastError: "boom again" },
        { target: "g", state: "delivered", attempts: 1, lastError: null },
      ]);
      const [dead] = await store.queue.deadLetters(10);
      assert.ok(dead !== undefined && dead.at > 0);
      assert.deepEqual(
        { ...dead, at: 0 },
        {
          seq: a?.seq,
          eventId: "e1",
          type: "t.x",
          target: "f",
          attempts: 1,
          reason: "attempts-exhausted",
          error: "boom again",
          at: 0,
        },
      );
      assert.equal(await store.queue.nextDue(), undefined, "nothing is pending");
    },
  );

  await t.test(
    "requeue moves only a dead letter back to pending, attempts reset, kept in history",
    async (t) => {
      const store = await opened(t, newStore());
      const [a] = await store.events.append([event(1, "q1", "p", "test", "t.y")]);
      const seq = a?.seq ?? 0;
      const [d] = await takeN(store, "h", 1);
      assert.ok(d !== undefined);
      assert.equal(await store.queue.requeue(seq, "h"), false, "pending is not dead");
      await store.queue.settle(refOf(d), { kind: "failed", reason: "denied", error: "no" });
      assert.equal(await store.queue.requeue(seq, "h"), true);
      assert.equal(await store.queue.requeue(seq, "nobody"), false);
      assert.deepEqual(await store.queue.deadLetters(10), []);
      const [back] = await takeN(store, "h", 1);
      assert.ok(back !== undefined && "event" in back);
      assert.equal(back.attempts, 0);
      await store.queue.settle(refOf(back), { kind: "delivered" });
      assert.equal(await store.queue.requeue(seq, "h"), false, "delivered is not dead");
      assert.deepEqual(
        (await store.queue.history("q1")).map((h) => [h.target, h.state, h.reason, h.lastError]),
        [["h", "failed", "denied", "no"]],
      );
    },
  );

  await t.test(
    "replay starts a delivery over with provenance and keeps the earlier outcome; a refused one is dead",
    async (t) => {
      const store = await opened(t, newStore());
      const [a] = await store.events.append([event(1, "h1", "p", "test", "t.y")]);
      const seq = a?.seq ?? 0;
      const [d] = await takeN(store, "h", 1);
      assert.ok(d !== undefined);
      await store.queue.settle(refOf(d), { kind: "delivered" });
      const at = Date.now();
      await store.queue.replay(seq, "h", { by: "ops", at });
      const [replayed] = await takeN(store, "h", 1);
      assert.ok(replayed !== undefined && "event" in replayed);
      assert.deepEqual([replayed.attempts, replayed.replay], [0, { by: "ops", at }]);
      await store.queue.settle(refOf(replayed), { kind: "delivered" });
      const past = await store.queue.history("h1");
      assert.deepEqual(
        past.map((p) => [p.target, p.state, p.attempts, p.lastError, p.reason]),
        [["h", "delivered", 1, null, null]],
      );
      assert.ok(past.every((p) => p.supersededAt >= p.at));

      // A replay to a target that would not pass today's checks is dead-lettered, never run.
      await store.queue.replay(seq, "h", { by: "ops", at }, 'function "h" no longer exists');
      const [dead] = await store.queue.deadLetters(10);
      assert.deepEqual(
        [dead?.eventId, dead?.reason, dead?.error],
        ["h1", "replay-refused", 'function "h" no longer exists'],
      );
      assert.deepEqual(await store.queue.take("h", 10), []);
      assert.equal((await store.queue.history("h1")).length, 2);
    },
  );

  await t.test(
    "a delivery to a target that does not subscribe to the event's type is refused not-subscribed",
    async (t) => {
      const store = await opened(t, newStore());
      const [a] = await store.events.append([event(1, "n1")]);
      await store.queue.replay(a?.seq ?? 0, "h", { by: "ops", at: Date.now() }); // h takes t.y only
      const [refused] = await takeN(store, "h", 1);
      assert.ok(refused !== undefined && "refused" in refused);
      assert.equal(refused.refused.reason, "not-subscribed");
      assert.match(refused.refused.error, /does not subscribe to "t\.x"/);
    },
  );

  await t.test("watch wakes on append until stopped", async (t) => {
    const store = await opened(t, newStore());
    let woken = 0;
    const stop = store.queue.watch(() => {
      woken += 1;
    });
    await store.events.append([event(1, "w1")]);
    await eventually(async () => (woken > 0 ? true : undefined), "a wake-up");
    stop();
  });

  await t.test("the backend holds ciphertext only: no body or error contains the plaintext", async (t) => {
    const marker = "MARKER-plaintext-4c1d";
    const store = await opened(t, newStore(), { sealer: createTestSealer() });
    await store.events.append([{ ...event(1, "s1"), data: { n: 1, note: marker } }]);
    const [d] = await takeN(store, "f", 1);
    assert.ok(d !== undefined);
    await store.queue.settle(refOf(d), { kind: "failed", reason: "denied", error: `cannot ${marker}` });
    const bodies = (await store.raw.read(0, 10)).map((r) => r.body);
    const errors = [
      ...(await store.raw.deadLetters(10)).map((x) => x.error),
      ...(await store.raw.deliveries("s1")).map((x) => x.lastError),
    ];
    assert.equal(bodies.length, 1);
    assert.equal(errors.length, 2);
    for (const text of [...bodies, ...errors]) assert.ok(!String(text).includes("MARKER"), String(text));
    assert.equal((await store.queue.deadLetters(1))[0]?.error, `cannot ${marker}`);
    assert.deepEqual((await store.events.read(0, 1))[0]?.event.data, { n: 1, note: marker });
  });

  await t.test(
    "a tampered or swapped body is refused as corrupt at take; deliveries before and after flow",
    async (t) => {
      const open = newStore();
      const sealer = createTestSealer();
      const first = await open({ subscriptions: SUBS, sealer });
      if (first.raw.rewritesBodies === false) {
        // Nothing can rewrite a stored body through this backend; its own tests forge one instead.
        await first.close();
        t.skip("the backend cannot rewrite a stored body (rewritesBodies: false)");
        return;
      }
      const appended = await first.events.append([
        event(1, "a"),
        event(2, "b"),
        event(3, "c"),
        event(4, "d"),
      ]);
      const bodies = new Map((await first.raw.read(0, 10)).map((r) => [r.id, r.body]));
      // Rewrite stored bodies through the backend itself, as someone with write access (no keys) could.
      const flipped = (s: string) => `${s.slice(0, -8)}${s.at(-8) === "A" ? "B" : "A"}${s.slice(-7)}`;
      const wanted = new Map([
        [eventRecordOf({ principal: "p", source: "test", id: "b", type: "t.x" }), flipped],
        [
          eventRecordOf({ principal: "p", source: "test", id: "c", type: "t.x" }),
          () => bodies.get("a") ?? "",
        ],
      ]);
      const rewritten = await first.raw.reseal(
        10,
        (_text, record) => wanted.has(record),
        (text, record) => wanted.get(record)?.(text),
      );
      assert.equal(rewritten, 2);
      await first.close();

      const store = await opened(t, open, { sealer });
      const skipped: number[] = [];
      const read = await store.events.read(0, 10, (seq) => skipped.push(seq));
      assert.deepEqual(
        read.map((s) => s.event.id),
        ["a", "d"],
        "read leaves them out",
      );
      assert.deepEqual(skipped, [appended[1]?.seq, appended[2]?.seq], "and says so");
      assert.deepEqual(idsOf(await takeN(store, "f", 4)), ["a", "b:corrupt", "c:corrupt", "d"]);
      await store.events.append([event(5, "e")]);
      assert.deepEqual(idsOf(await takeN(store, "f", 1)), ["e"], "and after them, too");
    },
  );
}
