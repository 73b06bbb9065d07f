import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { natsUnavailable, suiteNatsServer } from "../../../test/kit/nats-server.ts";
import { connectTo, freshApp, openTestStore } from "./nats-test-kit.ts";

const skip = natsUnavailable();

describe("NATS shared state", { skip }, () => {
  const server = suiteNatsServer();

  test("cursors start at 0 and keep what was set across stores", async (t) => {
    const app = freshApp();
    const a = await openTestStore(t, await connectTo(t, server.url), app, []);
    assert.equal(await a.state.cursor("schedule:x"), 0);
    await a.state.setCursor("schedule:x", 1_700_000_000_000);
    const b = await openTestStore(t, await connectTo(t, server.url), app, []);
    assert.equal(await b.state.cursor("schedule:x"), 1_700_000_000_000);
  });

  test("increments from two connections at once all count, and none passes the maximum", async (t) => {
    const app = freshApp();
    const a = await openTestStore(t, await connectTo(t, server.url), app, []);
    const b = await openTestStore(t, await connectTo(t, server.url), app, []);
    const run = (s: typeof a) =>
      Promise.all(Array.from({ length: 50 }, () => s.state.increment("budget", 1, 1000)));
    const results = (await Promise.all([run(a), run(b)])).flat();
    assert.equal(await a.state.increment("budget", 0, 1000), 100);
    assert.deepEqual(
      [...results].sort((x, y) => (x ?? 0) - (y ?? 0)),
      Array.from({ length: 100 }, (_, i) => i + 1),
      "every value after an increment was seen exactly once",
    );
    const capped = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).state.increment("cap", 1, 4)),
    );
    assert.equal(capped.filter((v) => v !== undefined).length, 4);
    assert.equal(await b.state.increment("cap", 1, 4), undefined);
  });

  test("a lease has one holder at a time, is renewed by it, and is free after it expires", async (t) => {
    const app = freshApp();
    const a = await openTestStore(t, await connectTo(t, server.url), app, []);
    const b = await openTestStore(t, await connectTo(t, server.url), app, []);
    const first = await Promise.all([
      a.state.lease("tick", "node-a", 500),
      b.state.lease("tick", "node-b", 500),
    ]);
    assert.equal(first.filter(Boolean).length, 1, "exactly one node holds it");
    const [holder, other] = first[0] ? (["node-a", b] as const) : (["node-b", a] as const);
    const holderStore = first[0] ? a : b;
    assert.equal(await holderStore.state.lease("tick", holder, 500), true, "renewed by its holder");
    assert.equal(await other.state.lease("tick", first[0] ? "node-b" : "node-a", 500), false);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(
      await other.state.lease("tick", first[0] ? "node-b" : "node-a", 500),
      true,
      "free after expiry",
    );
    assert.equal(await holderStore.state.lease("tick", holder, 500), false);
  });
});
