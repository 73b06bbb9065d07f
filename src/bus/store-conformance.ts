import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import {
  createTestSealer,
  event,
  eventually,
  idsOf,
  type NewStore,
  opened,
  refOf,
  takeN,
} from "./store-conformance-kit.ts";
import { runQueueConformance } from "./store-conformance-queue.ts";

export type { ConformanceOptions, ConformanceStore, NewStore, OpenStore } from "./store-conformance-kit.ts";

/**
 * The behaviour every storage backend must have, as subtests of `t`, through the sealed `Store` (and
 * the raw backend under it, for what encryption must keep from it). `newStore` makes a fresh, empty
 * backing store and returns how to open it. No timing is asserted: what a backend does
 * asynchronously is polled for, with a deadline.
 */
export async function runStoreConformance(t: TestContext, newStore: NewStore): Promise<void> {
  await runEventConformance(t, newStore);
  await runQueueConformance(t, newStore);
  await runStateConformance(t, newStore);
  await runMaintenanceConformance(t, newStore);
}

async function runEventConformance(t: TestContext, newStore: NewStore): Promise<void> {
  await t.test("appended events are read back and found by id after closing and reopening", async (t) => {
    const open = newStore();
    const first = await open({ subscriptions: [] });
    const [a] = await first.events.append([event(1, "a1")]);
    await first.close();
    const again = await opened(t, open);
    const stored = await again.events.read(0, 10);
    assert.deepEqual(
      stored.map((s) => [s.seq, s.event.id, s.event.data]),
      [[a?.seq, "a1", { n: 1 }]],
    );
    assert.ok((stored[0]?.acceptedAt ?? 0) > 0);
    assert.deepEqual(
      (await again.events.find("a1")).map((s) => s.seq),
      [a?.seq],
    );
    assert.deepEqual(await again.events.find("nope"), []);
    assert.deepEqual(await again.events.read(a?.seq ?? 0, 10), [], "nothing after the last");
  });

  await t.test("latest and earliest are the newest and oldest stored positions (0 when empty)", async (t) => {
    const store = await opened(t, newStore());
    assert.equal(await store.events.latest(), 0);
    assert.equal(await store.events.earliest(), 0);
    const appended = await store.events.append([event(1, "l1"), event(2, "l2")]);
    await store.events.append([event(3, "l1")]); // a duplicate stores nothing new
    assert.equal(await store.events.latest(), appended[1]?.seq);
    const [third] = await store.events.append([event(4, "l3")]);
    assert.equal(await store.events.latest(), third?.seq);
    assert.equal(await store.events.earliest(), appended[0]?.seq);
  });

  await t.test(
    "the same principal, source and id is a duplicate inside the window, stored again after it",
    async (t) => {
      const store = await opened(t, newStore(), { dedupeWindowMs: 300 });
      const [first] = await store.events.append([event(1, "same")]);
      const [inside] = await store.events.append([event(2, "same")]);
      assert.deepEqual([first?.duplicate, inside?.duplicate], [false, true]);
      assert.equal(inside?.seq, first?.seq, "a duplicate names the stored event's position");
      await new Promise((r) => setTimeout(r, 400));
      const [after] = await store.events.append([event(3, "same")]);
      assert.equal(after?.duplicate, false);
      assert.deepEqual(
        (await store.events.read(0, 10)).map((s) => s.event.data),
        [{ n: 1 }, { n: 3 }],
      );
    },
  );

  await t.test(
    "another principal's event with the same source and id is not a duplicate; nor another source's",
    async (t) => {
      const store = await opened(t, newStore());
      // The attacker goes first, with the victim's source and id; both must be kept.
      const [attacker] = await store.events.append([event(1, "same", "mallory")]);
      const [victim] = await store.events.append([event(2, "same", "storefront")]);
      const [resent] = await store.events.append([event(3, "same", "storefront")]);
      const [other] = await store.events.append([event(4, "same", "storefront", "elsewhere")]);
      assert.deepEqual(
        [attacker?.duplicate, victim?.duplicate, resent?.duplicate, other?.duplicate],
        [false, false, true, false],
      );
      assert.equal(resent?.seq, victim?.seq);
      assert.deepEqual(
        (await store.events.find("same")).map((s) => [s.event.principal, s.event.data]),
        [
          ["mallory", { n: 1 }],
          ["storefront", { n: 2 }],
          ["storefront", { n: 4 }],
        ],
      );
    },
  );

  await t.test("a multi-event append is all or none, in order, with duplicates inside it", async (t) => {
    const open = newStore();
    const store = await opened(t, open);
    const appended = await store.events.append([event(1, "a"), event(2, "b"), event(3, "a")]);
    assert.deepEqual(
      appended.map((a) => a.duplicate),
      [false, false, true],
    );
    assert.ok((appended[0]?.seq ?? 0) < (appended[1]?.seq ?? 0));
    // A batch one of whose events cannot be stored (here: sealed) stores none of them.
    const sealer = createTestSealer();
    let seals = 0;
    const failing = await opened(t, open, {
      sealer: {
        ...sealer,
        seal: (text, record) => {
          if (++seals === 2) throw new Error("seal failed");
          return sealer.seal(text, record);
        },
      },
    });
    await assert.rejects(failing.events.append([event(4, "c"), event(5, "d")]), /seal failed/);
    assert.deepEqual(
      (await store.events.read(0, 10)).map((s) => s.event.id),
      ["a", "b"],
    );
  });

  await t.test("concurrent appends are all stored, each at its own position, none lost", async (t) => {
    const store = await opened(t, newStore());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.events.append([event(i)])));
    const seqs = results.map((r) => r[0]?.seq ?? 0);
    assert.equal(new Set(seqs).size, 200);
    const stored = await store.events.read(0, 1000);
    assert.deepEqual(
      stored.map((s) => s.seq),
      [...seqs].sort((a, b) => a - b),
    );
    assert.deepEqual(
      (await store.events.read(stored[9]?.seq ?? 0, 3)).map((s) => s.seq),
      stored.slice(10, 13).map((s) => s.seq),
      "read continues after a position",
    );
  });
}

async function runStateConformance(t: TestContext, newStore: NewStore): Promise<void> {
  await t.test("named cursors start at 0 and keep what was set, across opens", async (t) => {
    const open = newStore();
    const store = await open({ subscriptions: [] });
    assert.equal(await store.state.cursor("schedule:x"), 0);
    await store.state.setCursor("schedule:x", 1_700_000_000_000);
    await store.close();
    const again = await opened(t, open);
    assert.equal(await again.state.cursor("schedule:x"), 1_700_000_000_000);
    await again.state.setCursor("schedule:x", 5);
    assert.equal(await again.state.cursor("schedule:x"), 5);
  });

  await t.test("named values are listed by prefix, without those set back to 0", async (t) => {
    const store = await opened(t, newStore());
    await store.state.setCursor("hold:root:shop/a.1", 7);
    await store.state.setCursor("hold:root:web hook:/x/é", 8);
    await store.state.setCursor("hold:root:gone", 9);
    await store.state.setCursor("hold:root:gone", 0);
    await store.state.setCursor("hold:rootless", 1);
    await store.state.setCursor("other", 2);
    assert.deepEqual(await store.state.list("hold:root:"), [
      { name: "hold:root:shop/a.1", value: 7 },
      { name: "hold:root:web hook:/x/é", value: 8 },
    ]);
    assert.deepEqual(await store.state.list("nothing:"), []);
  });

  await t.test(
    "increment adds up to its max and refuses past it; concurrent ones from two opens all count",
    async (t) => {
      const open = newStore();
      const a = await opened(t, open);
      const b = await opened(t, open);
      assert.equal(await a.state.increment("budget:f", 3, 5), 3);
      assert.equal(await a.state.increment("budget:f", 3, 5), undefined, "3 + 3 would pass 5");
      assert.equal(await b.state.increment("budget:f", 2, 5), 5);
      assert.equal(await b.state.cursor("budget:f"), 5);
      const all = await Promise.all([
        ...Array.from({ length: 50 }, () => a.state.increment("count", 1, 1000)),
        ...Array.from({ length: 50 }, () => b.state.increment("count", 1, 1000)),
      ]);
      assert.ok(all.every((n) => n !== undefined));
      assert.equal(new Set(all).size, 100, "every increment saw its own value");
      assert.equal(await a.state.cursor("count"), 100);
    },
  );

  await t.test("a lease has one holder at a time, renewed by it, and lapses after its ttl", async (t) => {
    const open = newStore();
    const a = await opened(t, open);
    const b = await opened(t, open);
    assert.equal(await a.state.lease("schedule:s", "node-a", 600), true);
    assert.equal(await b.state.lease("schedule:s", "node-b", 600), false, "held by node-a");
    assert.equal(await a.state.lease("schedule:s", "node-a", 600), true, "renewed by its holder");
    assert.equal(await b.state.lease("other", "node-b", 600), true, "another lease is free");
    await eventually(
      async () => ((await b.state.lease("schedule:s", "node-b", 60_000)) ? true : undefined),
      "the lease to lapse",
    );
    assert.equal(await a.state.lease("schedule:s", "node-a", 600), false, "node-b holds it now");
  });
}

async function runMaintenanceConformance(t: TestContext, newStore: NewStore): Promise<void> {
  await t.test("prune removes old finished events and their deliveries, never pending work", async (t) => {
    const store = await opened(t, newStore());
    await store.events.append([
      event(1, "done", "p", "test", "t.y"),
      event(2, "waiting", "p", "test", "t.y"),
    ]);
    await store.events.append([event(3, "unrouted", "p", "test", "u.z")]);
    const taken = await takeN(store, "h", 2);
    const done = taken.find((d) => "event" in d && d.event.id === "done");
    assert.ok(done !== undefined);
    await store.queue.settle(refOf(done), { kind: "delivered" });
    const [f1, f2] = await takeN(store, "f", 2);
    for (const d of [f1, f2]) if (d !== undefined) await store.queue.settle(refOf(d), { kind: "delivered" });
    assert.equal(await store.maintenance.prune(0), 0, "nothing is older than the epoch");
    if (store.raw.prunesPrefixOnly === true) {
      // Only events before the oldest pending one can go: done; unrouted waits behind waiting.
      assert.equal(await store.maintenance.prune(Date.now() + 1000), 1, "done goes; waiting stays");
      assert.deepEqual(
        (await store.events.read(0, 10)).map((s) => s.event.id),
        ["waiting", "unrouted"],
      );
    } else {
      assert.equal(
        await store.maintenance.prune(Date.now() + 1000),
        2,
        "done and unrouted go; waiting stays",
      );
      assert.deepEqual(
        (await store.events.read(0, 10)).map((s) => s.event.id),
        ["waiting"],
      );
    }
    assert.deepEqual(await store.queue.deliveries("done"), []);
    assert.deepEqual(await store.maintenance.stateCounts(), { pending: 1, failed: 0 });
  });

  await t.test("reencrypt re-seals every record under the active key; all still open after", async (t) => {
    const sealer = createTestSealer();
    const store = await opened(t, newStore(), { sealer });
    await store.events.append([event(1, "r1"), event(2, "r2"), event(3, "r3")]);
    for (const d of await takeN(store, "f", 3))
      await store.queue.settle(refOf(d), { kind: "failed", reason: "attempts-exhausted", error: "boom" });
    const [r2] = await takeN(store, "g", 2);
    assert.ok(r2 !== undefined && "event" in r2);
    await store.queue.settle(refOf(r2), { kind: "retry", at: Date.now() + 60_000, error: "later" });
    const before = await store.maintenance.sealedVersions();
    assert.deepEqual([...before.keys()], [1]);
    assert.ok((before.get(1) ?? 0) >= 7, "3 bodies and 4 errors");
    assert.equal(await store.maintenance.reencrypt(10), 0, "nothing stale yet");

    sealer.rotate();
    let moved = 0;
    for (let n = await store.maintenance.reencrypt(2); n > 0; n = await store.maintenance.reencrypt(2)) {
      assert.ok(n <= 2);
      moved += n;
    }
    const after = await store.maintenance.sealedVersions();
    if (store.raw.rewritesBodies === false) {
      // What cannot be rewritten stays counted under its old key (so that key is not retired yet).
      assert.ok(moved > 0, "what can be re-sealed is");
      assert.deepEqual([after.get(2), after.get(1)], [moved, (before.get(1) ?? 0) - moved]);
    } else {
      assert.equal(moved, before.get(1));
      assert.deepEqual([...after.entries()], [[2, before.get(1)]]);
    }
    assert.deepEqual(
      (await store.events.read(0, 10)).map((s) => s.event.data),
      [{ n: 1 }, { n: 2 }, { n: 3 }],
    );
    assert.deepEqual(
      (await store.queue.deadLetters(10)).map((d) => d.error),
      ["boom", "boom", "boom"],
    );
    assert.deepEqual(
      (await store.queue.deliveries("r2")).map((d) => [d.target, d.lastError]),
      [
        ["f", "boom"],
        ["g", "later"],
      ],
    );
  });

  await t.test("stateCounts counts pending and dead-lettered deliveries", async (t) => {
    const store = await opened(t, newStore());
    assert.deepEqual(await store.maintenance.stateCounts(), { pending: 0, failed: 0 });
    await store.events.append([event(1, "c1"), event(2, "c2")]);
    const taken = await takeN(store, "f", 2);
    // A backend routing by type only applies g's filter when g takes: c1 is skipped there.
    if (!store.raw.routesByContent) await takeN(store, "g", 1);
    await eventually(
      async () => ((await store.maintenance.stateCounts()).pending === 3 ? true : undefined),
      "3 pending (2 for f, 1 for g)",
    );
    const [first] = taken;
    assert.ok(first !== undefined);
    await store.queue.settle(refOf(first), { kind: "failed", reason: "denied", error: "no" });
    assert.deepEqual(await store.maintenance.stateCounts(), { pending: 2, failed: 1 });
    assert.deepEqual(idsOf(await store.queue.take("f", 10)), [], "the other is still claimed");
  });
}
