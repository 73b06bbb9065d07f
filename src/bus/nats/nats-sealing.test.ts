import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { natsUnavailable, suiteNatsServer } from "../../../test/kit/nats-server.ts";
import type { CloudEvent } from "../../events/index.ts";
import type { RecordSealer } from "../event-log.ts";
import { createSealing } from "../sealed-store.ts";
import { encodeToken } from "./names.ts";
import { connectTo, freshApp, openTestStore, rawEvent, ref, takeUntil } from "./nats-test-kit.ts";

const skip = natsUnavailable();

/** A toy sealing: `v<n>:` and the text. */
const versionOf = (sealed: string) => Number(/^v(\d+):/.exec(sealed)?.[1] ?? 0);
const mac = (text: string) => createHmac("sha256", "platform-key").update(text).digest("hex");

describe("NATS store: re-sealing, counting and authentication", { skip }, () => {
  const server = suiteNatsServer();

  test("dead-letter errors are re-sealed; immutable stream texts are counted by version, not hidden", async (t) => {
    const store = await openTestStore(t, await connectTo(t, server.url), freshApp(), [
      { name: "f", on: ["t.x"] },
    ]);
    await store.append([{ ...rawEvent("r1"), body: "v1:{}" }]);
    const [d] = await takeUntil(store, "f", 1);
    assert.ok(d);
    await store.settle(ref(d), { kind: "failed", reason: "denied", error: "v1:no" });
    assert.deepEqual(
      [...(await store.countVersions(versionOf))],
      [[1, 3]],
      "body, outcome record, dead letter",
    );
    const resealed = await store.reseal(
      10,
      (s) => versionOf(s) < 2,
      (s) => s.replace(/^v1:/, "v2:"),
    );
    assert.equal(resealed, 1, "the dead letter");
    assert.equal(
      await store.reseal(
        10,
        (s) => versionOf(s) < 2,
        (s) => s.replace(/^v1:/, "v2:"),
      ),
      0,
    );
    const counts = await store.countVersions(versionOf);
    assert.deepEqual([counts.get(1), counts.get(2)], [2, 1]);
    assert.equal((await store.deadLetters(1))[0]?.error, "v2:no");
  });

  test("with the platform's mac, a forged replay is refused and a forged outcome record is ignored", async (t) => {
    const nc = await connectTo(t, server.url);
    const store = await openTestStore(t, nc, freshApp(), [{ name: "f", on: ["t.x"] }], { mac });
    const [a] = await store.append([rawEvent("m1")]);
    assert.ok(a);
    const [d] = await takeUntil(store, "f", 1);
    assert.ok(d);
    await store.settle(ref(d), { kind: "delivered" });

    // A client with publish rights on the broker, without the platform's key.
    const js = jetstream(nc);
    const h = headers();
    h.set("Pal-Seq", String(a.seq));
    await js.publish(`${store.names.replays}.f`, undefined, { headers: h });
    const [forged] = await takeUntil(store, "f", 1);
    assert.equal(forged?.refused?.reason, "unauthenticated");
    assert.ok(forged);
    await store.settle(ref(forged), { kind: "failed", reason: "unauthenticated", error: "x" });

    // A forged "delivered" record must not hide a real pending delivery.
    const [b] = await store.append([rawEvent("m2")]);
    assert.ok(b);
    const record = JSON.stringify({ kind: "delivered", attempts: 1, at: Date.now(), src: "e" });
    await js.publish(`${store.names.outcomes}.${b.seq}.${encodeToken("f")}`, record);
    assert.deepEqual(await store.deliveries("m2"), [
      { target: "f", state: "pending", attempts: 0, lastError: null, seq: b.seq },
    ]);
    const [real] = await takeUntil(store, "f", 1);
    assert.equal(real?.record.id, "m2");
    assert.equal(real?.refused, undefined);

    // The platform's own replay still runs.
    await store.replay(a.seq, "f", { by: "ops", at: 1 });
    const [genuine] = await takeUntil(store, "f", 1);
    assert.deepEqual([genuine?.record.id, genuine?.refused, genuine?.replay?.by], ["m1", undefined, "ops"]);
  });

  test("a body sealed with a key version this node has not seen yet: the key ring is re-read before it is refused", async (t) => {
    const app = freshApp();
    const subs = [{ name: "f", on: ["t.x"] }];
    // Two nodes' toy key rings: the writer seals with version 2, which the reader learns on refresh.
    const toy = (known: Set<number>, active: number): RecordSealer & { refreshes: number } => ({
      refreshes: 0,
      seal: (text) => `v${active}:${text}`,
      open(sealed) {
        if (!known.has(versionOf(sealed))) throw new Error(`unknown version ${versionOf(sealed)}`);
        return sealed.replace(/^v\d+:/, "");
      },
      versionOf,
      activeVersion: () => active,
      knows: (v) => known.has(v),
      async refresh() {
        this.refreshes++;
        known.add(2);
      },
    });
    const writerSealer = toy(new Set([1, 2]), 2);
    const readerSealer = toy(new Set([1]), 1);
    const node = async (sealer: RecordSealer) => {
      const sealing = createSealing(sealer, subs);
      const raw = await openTestStore(t, await connectTo(t, server.url), app, subs, {
        accepts: sealing.accepts,
      });
      return sealing.wrap(raw);
    };
    const writer = await node(writerSealer);
    const reader = await node(readerSealer);
    const event = {
      id: "k1",
      type: "t.x",
      source: "test",
      principal: "p",
      data: {},
    } as unknown as CloudEvent;
    await writer.events.append([event]);
    let taken: Awaited<ReturnType<typeof reader.queue.take>> = [];
    const deadline = Date.now() + 15_000;
    while (taken.length === 0 && Date.now() < deadline) {
      taken = await reader.queue.take("f", 1);
      if (taken.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(taken.length, 1);
    assert.equal("refused" in (taken[0] ?? {}), false, JSON.stringify(taken[0]));
    assert.equal(readerSealer.refreshes, 1);
  });

  test("closing a store gives back what it buffered but never handed out", async (t) => {
    const app = freshApp();
    const subs = [{ name: "f", on: ["t.x"] }];
    const first = await openTestStore(t, await connectTo(t, server.url), app, subs, { ackWaitMs: 60_000 });
    await first.append([rawEvent("b1"), rawEvent("b2")]);
    const [one] = await takeUntil(first, "f", 1);
    assert.ok(one);
    // b2 arrived in first's buffer too (prefetch); closing must not leave it leased for a minute.
    await new Promise((r) => setTimeout(r, 300));
    await first.close();
    const second = await openTestStore(t, await connectTo(t, server.url), app, subs, { ackWaitMs: 60_000 });
    const got = await takeUntil(second, "f", 1, 5_000);
    assert.deepEqual(
      got.map((d) => d.record.id),
      ["b2"],
    );
  });
});
