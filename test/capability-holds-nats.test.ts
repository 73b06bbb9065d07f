/**
 * Capability holds over NATS shared state (a real nats-server): the scope names (slashes, colons,
 * a URL) and the waiting deliveries' names (JSON arrays with any event id) round-trip through the
 * KV bucket, and a hold, its waiting deliveries, a discard and a release made on one node reach
 * another, as `palisade quarantine list|discard|release --nats` and the workers rely on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connectTo, freshApp, openTestStore } from "../src/bus/nats/nats-test-kit.ts";
import {
  capabilityScope,
  createCapabilityGate,
  DISCARD_WAIT,
  openCapabilityHoldStore,
} from "../src/detect/index.ts";
import { natsUnavailable, suiteNatsServer } from "./kit/nats-server.ts";

const skip = natsUnavailable();

describe("capability holds on NATS", { skip }, () => {
  const server = suiteNatsServer();

  test("a hold, its waiting deliveries, a discard and a release reach every node", async (t) => {
    const app = freshApp();
    const a = openCapabilityHoldStore(
      (await openTestStore(t, await connectTo(t, server.url), app, [])).state,
    );
    const b = openCapabilityHoldStore(
      (await openTestStore(t, await connectTo(t, server.url), app, [])).state,
    );
    const scope = capabilityScope("export", "egress", "https://drop.example");
    assert.equal(scope, "export/egress:https://drop.example:443");
    const here = createCapabilityGate(a);
    const there = createCapabilityGate(b);
    here.impose(scope, 5_000);
    const odd = { id: 'a/b:"c" [d]', principal: "shop", type: "t.x", hop: 0 };
    const plain = { id: "e2", principal: "shop", type: "t.x", hop: 0 };
    assert.equal(here.check("export", "egress", "https://drop.example:443", odd), scope);
    assert.equal(here.check("export", "egress", "https://drop.example:443", plain), scope);
    await here.refresh(false); // written

    assert.deepEqual(await b.list(), [{ root: scope, since: 5_000 }]);
    assert.deepEqual((await b.waits(scope)).map((w) => w.id).sort(), [odd.id, plain.id].sort());
    assert.deepEqual(await there.refresh(true), { changed: false, imposed: [scope] });
    assert.equal(there.verdict("export", odd), "wait");

    // An operator discards one and releases the rest, from another connection.
    const [first] = (await b.waits(scope)).filter((w) => w.id === odd.id);
    assert.ok(first);
    await b.setWait(first, DISCARD_WAIT);
    assert.equal((await here.refresh(true)).changed, true);
    assert.equal(here.verdict("export", odd), "discard");
    assert.equal(here.verdict("export", plain), "wait");
    assert.equal(await b.release(scope), true);
    assert.equal((await here.refresh(false)).changed, true);
    assert.equal(here.verdict("export", plain), "run");
    await here.refresh(false);
    assert.deepEqual(await a.waits(), [], "each wait cleared once it was answered");
    assert.deepEqual(await a.list(), []);
  });
});
