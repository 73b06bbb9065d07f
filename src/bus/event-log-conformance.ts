import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { type CloudEvent, createEvent } from "../events/index.ts";
import type { EventLog } from "./event-log.ts";

/** Opens (or reopens) one backing store; every call for the same store sees the same data. */
export type OpenLog = (options?: { dedupeWindowMs?: number }) => EventLog;

function event(n: number, id?: string, principal = "p", source = "test"): CloudEvent {
  return createEvent({ type: "t.x", data: { n }, ...(id ? { id } : {}) }, { principal, source, hop: 0 });
}

/**
 * The behaviour every EventLog backend must have, as subtests of `t`. `newStore` makes a fresh,
 * empty backing store (a file, a JetStream stream) and returns how to open it.
 */
export async function runEventLogConformance(t: TestContext, newStore: () => OpenLog): Promise<void> {
  await t.test("appended events survive closing and reopening the file", async (t) => {
    const open = newStore();
    const log = open();
    const [a] = await log.append([event(1)]);
    await log.close();
    const again = open();
    t.after(() => again.close());
    const stored = await again.readAfter(0, 10);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.event.id, a?.id);
    assert.deepEqual(stored[0]?.event.data, { n: 1 });
  });

  await t.test(
    "an event with the same source and id is stored once and reported as a duplicate",
    async (t) => {
      const open = newStore();
      const log = open();
      t.after(() => log.close());
      const [first] = await log.append([event(1, "same")]);
      const [second] = await log.append([event(2, "same")]);
      assert.equal(first?.duplicate, false);
      assert.equal(second?.duplicate, true);
      assert.equal(second?.seq, first?.seq);
      assert.equal((await log.readAfter(0, 10)).length, 1);
    },
  );

  await t.test(
    "another principal's event with the same source and id is stored too: dedupe is scoped to the principal",
    async (t) => {
      const open = newStore();
      const log = open();
      t.after(() => log.close());
      // The attacker goes first, with the victim's source and id; both must be kept.
      const [attacker] = await log.append([event(1, "same", "mallory")]);
      const [victim] = await log.append([event(2, "same", "storefront")]);
      const [resent] = await log.append([event(3, "same", "storefront")]);
      assert.equal(attacker?.duplicate, false);
      assert.equal(victim?.duplicate, false, "the victim's event is not taken for the attacker's");
      assert.notEqual(victim?.seq, attacker?.seq);
      assert.equal(resent?.duplicate, true, "the victim's own resend is still a duplicate");
      assert.equal(resent?.seq, victim?.seq);
      const stored = await log.readAfter(0, 10);
      assert.deepEqual(
        stored.map((s) => [s.event.principal, s.event.data]),
        [
          ["mallory", { n: 1 }],
          ["storefront", { n: 2 }],
        ],
      );
    },
  );

  await t.test(
    "one principal's events with the same id from different sources are both stored",
    async (t) => {
      const open = newStore();
      const log = open();
      t.after(() => log.close());
      const [a] = await log.append([event(1, "same", "relay", "https://a.example")]);
      const [b] = await log.append([event(2, "same", "relay", "https://b.example")]);
      assert.deepEqual([a?.duplicate, b?.duplicate], [false, false]);
      assert.equal((await log.readAfter(0, 10)).length, 2);
    },
  );

  await t.test(
    "deliveries move from pending to delivered or failed with the reason, and retries wait until due",
    async (t) => {
      const open = newStore();
      const log = open();
      t.after(() => log.close());
      const [a] = await log.append([event(1, "e1")]);
      assert.ok(a);
      await log.route("dispatch", a.seq, [
        { seq: a.seq, target: "f" },
        { seq: a.seq, target: "g" },
      ]);
      assert.equal(await log.cursor("dispatch"), a.seq);
      assert.equal((await log.due("f", Date.now(), 10)).length, 1);

      const later = Date.now() + 60_000;
      await log.settle(a.seq, "f", { kind: "retry", at: later, error: "boom" });
      assert.equal((await log.due("f", Date.now(), 10)).length, 0);
      assert.equal((await log.due("f", later, 10))[0]?.attempts, 1);
      // g is still pending and due now, so the earliest due time is g's, not f's retry.
      assert.ok(((await log.nextDue()) ?? Infinity) <= Date.now());

      await log.settle(a.seq, "f", { kind: "failed", reason: "attempts-exhausted", error: "boom again" });
      await log.settle(a.seq, "g", { kind: "delivered" });
      assert.deepEqual(await log.deliveries("e1"), [
        { target: "f", state: "failed", attempts: 2, lastError: "boom again" },
        { target: "g", state: "delivered", attempts: 1, lastError: null },
      ]);
      assert.equal(await log.nextDue(), undefined);
      const [dead] = await log.deadLetters(10);
      assert.deepEqual(
        { ...dead, at: 0 },
        {
          seq: a.seq,
          eventId: "e1",
          type: "t.x",
          target: "f",
          attempts: 2,
          reason: "attempts-exhausted",
          error: "boom again",
          at: 0,
        },
      );
    },
  );

  await t.test(
    "a resend after the dedupe window is stored again; inside it, it is a duplicate",
    async (t) => {
      const open = newStore();
      const log = open({ dedupeWindowMs: 200 });
      t.after(() => log.close());
      const [first] = await log.append([event(1, "again")]);
      const [inside] = await log.append([event(2, "again")]);
      assert.deepEqual([first?.duplicate, inside?.duplicate], [false, true]);
      await new Promise((r) => setTimeout(r, 300));
      const [after] = await log.append([event(3, "again")]);
      assert.equal(after?.duplicate, false);
      assert.equal((await log.readAfter(0, 10)).length, 2);
    },
  );

  await t.test("concurrent appends are all stored, in one order, none lost", async (t) => {
    const log = newStore()();
    t.after(() => log.close());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append([event(i)])));
    const seqs = results.map((r) => r[0]?.seq ?? 0);
    assert.equal(new Set(seqs).size, 200);
    const stored = await log.readAfter(0, 1000);
    assert.equal(stored.length, 200);
    assert.deepEqual(
      stored.map((s) => s.seq),
      [...seqs].sort((a, b) => a - b),
    );
    assert.deepEqual(
      (await log.typesAfter(stored[9]?.seq ?? 0, 3)).map((x) => x.seq),
      stored.slice(10, 13).map((s) => s.seq),
    );
  });

  await t.test("a multi-event append is one write: all stored, in order", async (t) => {
    const log = newStore()();
    t.after(() => log.close());
    const appended = await log.append([event(1, "a"), event(2, "b"), event(3, "a")]);
    assert.deepEqual(
      appended.map((a) => a.duplicate),
      [false, false, true],
      "a duplicate inside the batch too",
    );
    assert.deepEqual(
      (await log.readAfter(0, 10)).map((s) => s.event.id),
      ["a", "b"],
    );
  });

  await t.test("prune removes old finished events and their deliveries, never pending work", async (t) => {
    const log = newStore()();
    t.after(() => log.close());
    const [done, waiting, fresh] = await log.append([
      event(1, "done"),
      event(2, "waiting"),
      event(3, "fresh"),
    ]);
    await log.route("dispatch", fresh?.seq ?? 0, [
      { seq: done?.seq ?? 0, target: "f" },
      { seq: waiting?.seq ?? 0, target: "f" },
    ]);
    await log.settle(done?.seq ?? 0, "f", { kind: "delivered" });
    assert.equal(await log.prune(Date.now() + 1000), 2, "done and fresh (no deliveries) go; waiting stays");
    assert.deepEqual(
      (await log.readAfter(0, 10)).map((s) => s.event.id),
      ["waiting"],
    );
    assert.deepEqual(await log.deliveries("done"), []);
    assert.equal(await log.prune(0), 0, "nothing is older than the epoch");
  });

  await t.test(
    "a DLQ replay and an event replay start a delivery over and keep the earlier outcomes",
    async (t) => {
      const open = newStore();
      const log = open();
      t.after(() => log.close());
      const [a] = await log.append([event(1, "h1")]);
      assert.ok(a);
      await log.route("dispatch", a.seq, [{ seq: a.seq, target: "f" }]);
      // Only a dead letter can be requeued.
      assert.equal(await log.requeue(a.seq, "f"), false);
      await log.settle(a.seq, "f", { kind: "failed", reason: "attempts-exhausted", error: "boom" });
      assert.equal(await log.requeue(a.seq, "f"), true);
      assert.deepEqual(await log.deliveries("h1"), [
        { target: "f", state: "pending", attempts: 0, lastError: "boom" },
      ]);
      await log.settle(a.seq, "f", { kind: "delivered" });
      await log.replay(a.seq, "f", { by: "ops", at: Date.now() });
      const past = await log.history("h1");
      assert.deepEqual(
        past.map(({ target, state, attempts, lastError, reason }) => ({
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
      assert.ok(past.every((p) => p.supersededAt >= p.at));
      const [replayed] = await log.due("f", Date.now() + 1, 10);
      assert.ok(replayed !== undefined && "event" in replayed);
      assert.equal(replayed.replay?.by, "ops");
    },
  );

  await t.test("named cursors start at 0 and keep what was set", async (t) => {
    const open = newStore();
    const log = open();
    assert.equal(await log.cursor("schedule:x"), 0);
    await log.setCursor("schedule:x", 1_700_000_000_000);
    await log.close();
    const again = open();
    t.after(() => again.close());
    assert.equal(await again.cursor("schedule:x"), 1_700_000_000_000);
  });
}
