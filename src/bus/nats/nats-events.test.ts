import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { natsUnavailable, suiteNatsServer } from "../../../test/kit/nats-server.ts";
import { connectTo, freshApp, openTestStore, rawEvent } from "./nats-test-kit.ts";

const skip = natsUnavailable();

describe("NATS event store", { skip }, () => {
  const server = suiteNatsServer();

  test("appended events are read back in order, by position and by id", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), []);
    const appended = await store.append([rawEvent("a"), rawEvent("b", "x.y.z"), rawEvent("c")]);
    assert.deepEqual(
      appended.map((a) => [a.id, a.duplicate]),
      [
        ["a", false],
        ["b", false],
        ["c", false],
      ],
    );
    const all = await store.read(0, 10);
    assert.deepEqual(
      all.map((e) => [e.seq, e.id, e.type]),
      appended.map((a, i) => [a.seq, a.id, ["t.x", "x.y.z", "t.x"][i]]),
    );
    assert.deepEqual(
      (await store.read(appended[0]?.seq ?? 0, 1)).map((e) => e.id),
      ["b"],
    );
    const [found] = await store.find("b");
    assert.equal(found?.seq, appended[1]?.seq);
    assert.equal(found?.body, rawEvent("b", "x.y.z").body);
    assert.ok((found?.acceptedAt ?? 0) > 0);
    assert.deepEqual(await store.find("nope"), []);
  });

  test("a resend is a duplicate of the first (same seq), inside a batch too; another principal's is not", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), []);
    const first = await store.append([rawEvent("same"), rawEvent("other"), rawEvent("same")]);
    assert.deepEqual(
      first.map((a) => a.duplicate),
      [false, false, true],
    );
    assert.equal(first[2]?.seq, first[0]?.seq);
    const [again] = await store.append([rawEvent("same")]);
    assert.deepEqual([again?.duplicate, again?.seq], [true, first[0]?.seq]);
    const [mallory] = await store.append([rawEvent("same", "t.x", "mallory")]);
    assert.equal(mallory?.duplicate, false);
    assert.deepEqual(
      (await store.find("same")).map((e) => e.principal),
      ["p", "mallory"],
    );
    assert.equal((await store.read(0, 10)).length, 3);
  });

  test("a resend inside the dedupe window is a duplicate however late; after it, it is stored again", async (t) => {
    const nc = await connectTo(t, server.url);
    // The earlier copy on the event's subject is what decides, by its accepted time.
    const store = await openTestStore(t, nc, freshApp(), [], { dedupeWindowMs: 3_000 });
    const [first] = await store.append([rawEvent("late")]);
    await new Promise((r) => setTimeout(r, 2_000));
    const [inside] = await store.append([rawEvent("late")]);
    assert.deepEqual([inside?.duplicate, inside?.seq], [true, first?.seq]);
    await new Promise((r) => setTimeout(r, 1_500));
    const [after] = await store.append([rawEvent("late")]);
    assert.equal(after?.duplicate, false, "after the window it is stored again");
    assert.equal((await store.read(0, 10)).length, 2);
  });

  test("two connections appending the same event at once store it once", async (t) => {
    const app = freshApp();
    const a = await openTestStore(t, await connectTo(t, server.url), app, []);
    const b = await openTestStore(t, await connectTo(t, server.url), app, []);
    const events = Array.from({ length: 20 }, (_, i) => rawEvent(`race-${i}`));
    const [fromA, fromB] = await Promise.all([a.append(events), b.append(events)]);
    for (let i = 0; i < events.length; i++) {
      assert.equal(fromA[i]?.seq, fromB[i]?.seq, "both report the one stored copy");
      assert.equal(Number(fromA[i]?.duplicate) + Number(fromB[i]?.duplicate), 1);
    }
    assert.equal((await a.read(0, 100)).length, 20);
  });

  test("types that are not plain subject tokens are stored and routed by their encoded subject", async (t) => {
    const nc = await connectTo(t, server.url);
    const app = freshApp();
    const store = await openTestStore(t, nc, app, [{ name: "f", on: ["we ird.*"] }]);
    await store.append([rawEvent("w1", "we ird.x>y"), rawEvent("w2", "weird.x")]);
    const [d] = await (async () => {
      for (let i = 0; i < 100; i++) {
        const got = await store.take("f", 10);
        if (got.length > 0) return got;
        await new Promise((r) => setTimeout(r, 50));
      }
      return [];
    })();
    assert.equal(d?.record.type, "we ird.x>y");
    assert.equal(d?.record.id, "w1");
  });

  test("durability names the backend, replicas and server version", async (t) => {
    const store = await openTestStore(t, await connectTo(t, server.url), freshApp(), []);
    assert.equal(store.durability.backend, "nats");
    assert.match(store.durability.summary, /^R1, server \d+\.\d+\.\d+/);
    assert.equal(store.durability.safe, false);
  });
});
