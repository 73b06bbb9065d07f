import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { natsUnavailable, startNatsServer, suiteNatsServer } from "../../../test/kit/nats-server.ts";
import { connectTo, freshApp, openTestStore, rawEvent, ref, takeUntil } from "./nats-test-kit.ts";
import { createOutcomeLog } from "./outcome-records.ts";

const skip = natsUnavailable();

describe("NATS leases, crashes and prune", { skip }, () => {
  const server = suiteNatsServer();

  test("work taken by a worker that dies is taken again by another after the lease", async (t) => {
    const app = freshApp();
    const subs = [{ name: "f", on: ["t.x"] }];
    const deadConn = await connectTo(t, server.url);
    const dying = await openTestStore(t, deadConn, app, subs, { ackWaitMs: 1_000 });
    await dying.append([rawEvent("k1"), rawEvent("k2")]);
    const taken = await takeUntil(dying, "f", 2);
    assert.equal(taken.length, 2);
    await deadConn.close(); // no settle, no goodbye: its heartbeats stop with the connection

    const survivor = await openTestStore(t, await connectTo(t, server.url), app, subs, { ackWaitMs: 1_000 });
    const again = await takeUntil(survivor, "f", 2);
    assert.deepEqual(again.map((d) => d.record.id).sort(), ["k1", "k2"]);
    assert.ok(
      again.every((d) => d.attempts === 1),
      "the lost attempt counts",
    );
    for (const d of again) await survivor.settle(ref(d), { kind: "delivered" });
    assert.deepEqual(await survivor.stateCounts(), { pending: 0, failed: 0 });
  });

  test("a redelivery of a delivery whose outcome was recorded is acknowledged, not handed out again", async (t) => {
    const app = freshApp();
    const subs = [{ name: "f", on: ["t.x"] }];
    const deadConn = await connectTo(t, server.url);
    const dying = await openTestStore(t, deadConn, app, subs, { ackWaitMs: 1_000 });
    await dying.append([rawEvent("done"), rawEvent("not-done")]);
    const taken = await takeUntil(dying, "f", 2);
    const done = taken.find((d) => d.record.id === "done");
    assert.ok(done);
    // The node recorded the outcome and died before its ack reached the server.
    const nc = await connectTo(t, server.url);
    const log = createOutcomeLog(jetstream(nc), await jetstreamManager(nc), dying.names, undefined);
    await log.write(done.seq, "f", { kind: "delivered", attempts: 1, at: Date.now(), src: "e" });
    await deadConn.close();

    const survivor = await openTestStore(t, nc, app, subs, { ackWaitMs: 1_000 });
    const again = await takeUntil(survivor, "f", 2, 4_000);
    assert.deepEqual(
      again.map((d) => d.record.id),
      ["not-done"],
    );
    assert.deepEqual(await survivor.deliveries("done"), [
      { target: "f", state: "delivered", attempts: 1, lastError: null, seq: done.seq },
    ]);
  });

  test("a worker holding work longer than the lease keeps it (heartbeats)", async (t) => {
    const app = freshApp();
    const subs = [{ name: "f", on: ["t.x"] }];
    const slow = await openTestStore(t, await connectTo(t, server.url), app, subs, { ackWaitMs: 600 });
    const other = await openTestStore(t, await connectTo(t, server.url), app, subs, { ackWaitMs: 600 });
    await slow.append([rawEvent("long")]);
    const [d] = await takeUntil(slow, "f", 1);
    assert.ok(d);
    assert.deepEqual(await takeUntil(other, "f", 1, 2_000), [], "still claimed after three leases");
    await slow.settle(ref(d), { kind: "delivered" });
  });

  test("prune removes old finished events, never pending work or a pending replay's event", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), [{ name: "f", on: ["t.x"] }]);
    const [done, waiting, fresh] = await store.append([
      rawEvent("done"),
      rawEvent("waiting"),
      rawEvent("fresh", "other.type"),
    ]);
    assert.ok(done && waiting && fresh);
    const taken = await takeUntil(store, "f", 2);
    const first = taken.find((d) => d.record.id === "done");
    assert.ok(first);
    await store.settle(ref(first), { kind: "delivered" });
    assert.equal(await store.prune(0), 0, "nothing is older than the epoch");
    assert.equal(await store.prune(Date.now() + 1000), 1, "only what is below the pending delivery");
    assert.deepEqual(
      (await store.read(0, 10)).map((e) => e.id),
      ["waiting", "fresh"],
    );
    assert.deepEqual(await store.deliveries("done"), []);

    const second = taken.find((d) => d.record.id === "waiting");
    assert.ok(second);
    await store.settle(ref(second), { kind: "delivered" });
    await store.replay(waiting.seq, "f", { by: "ops", at: 1 });
    assert.equal(await store.prune(Date.now() + 1000), 0, "the replay still needs it");
    const [replayed] = await takeUntil(store, "f", 1);
    assert.ok(replayed);
    await store.settle(ref(replayed), { kind: "delivered" });
    assert.equal(await store.prune(Date.now() + 1000), 2);
    assert.deepEqual(await store.read(0, 10), []);
    const [next] = await store.append([rawEvent("after")]);
    assert.equal(next?.seq, fresh.seq + 1, "positions keep counting");
  });

  test("a worker resumes taking after its server is killed and restarted", async (t) => {
    const own = await startNatsServer();
    t.after(() => own.stop());
    const subs = [{ name: "f", on: ["t.x"] }];
    const store = await openTestStore(t, await connectTo(t, own.url), freshApp(), subs);
    await store.append([rawEvent("before")]);
    const [b] = await takeUntil(store, "f", 1);
    assert.ok(b);
    await store.settle(ref(b), { kind: "delivered" });
    await own.restart(); // SIGKILL, then the same server on the same store
    let appended = false;
    for (let i = 0; i < 100 && !appended; i++) {
      appended = await store.append([rawEvent("after")]).then(
        () => true,
        () => false,
      );
      if (!appended) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(appended, "appends resume once the server is back");
    const [a] = await takeUntil(store, "f", 1, 20_000);
    assert.equal(a?.record.id, "after");
  });
});
