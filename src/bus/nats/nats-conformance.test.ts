import assert from "node:assert/strict";
import { after, before, type TestContext, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type NatsServer, natsUnavailable, startNatsServer } from "../../../test/kit/nats-server.ts";
import { createSealing } from "../sealed-store.ts";
import { runStoreConformance } from "../store-conformance.ts";
import {
  type ConformanceOptions,
  type ConformanceStore,
  createTestSealer,
  event,
  idsOf,
  type OpenStore,
  opened,
  takeN,
} from "../store-conformance-kit.ts";
import { eventHeaders } from "./event-codec.ts";
import { eventSubject, natsNames } from "./names.ts";
import { openNatsRawStore } from "./nats-raw-store.ts";
import { connectTo, freshApp } from "./nats-test-kit.ts";

const skip = natsUnavailable();

let server: NatsServer | undefined;
before(async () => {
  if (skip === undefined) server = await startNatsServer();
});
after(() => server?.stop());

/** How to open the sealed store of one fresh app on the file's server. */
function newNatsStore(app = freshApp()): OpenStore {
  // A fresh app per backing store: its own streams, consumers and buckets.
  return async (options: ConformanceOptions = {}): Promise<ConformanceStore> => {
    const nc = await connect({
      servers: server?.url ?? "",
      reconnectTimeWait: 200,
      maxReconnectAttempts: -1,
    });
    const subscriptions = options.subscriptions ?? [];
    const sealing = createSealing(options.sealer, subscriptions);
    const mac = options.sealer?.mac?.bind(options.sealer);
    try {
      const raw = await openNatsRawStore(nc, {
        app,
        replicas: 1,
        dedupeWindowMs: options.dedupeWindowMs ?? 60_000,
        subscriptions,
        accepts: sealing.accepts,
        ackWaitMs: 3_000,
        fetchExpiresMs: 1_000,
        ...(mac === undefined ? {} : { mac }),
      });
      const store = sealing.wrap(raw);
      return {
        ...store,
        raw,
        async close() {
          await store.close();
          await nc.close();
        },
      };
    } catch (err) {
      await nc.close();
      throw err;
    }
  };
}

test("the NATS backend passes the store conformance suite", { skip }, async (t) => {
  await runStoreConformance(t, () => newNatsStore());
});

test("a forged event (another record's body, or garbage) is refused as corrupt at take; deliveries before and after flow", {
  skip,
}, async (t: TestContext) => {
  // JetStream messages cannot be rewritten, so tampering here is publishing: someone with publish
  // rights on the broker but not the platform's keys adds events to the app's stream.
  const sealer = createTestSealer();
  const app = freshApp();
  const store = await opened(t, newNatsStore(app), { sealer });
  const [a] = await store.events.append([event(1, "a")]);
  const body = (await store.raw.read(0, 1))[0]?.body ?? "";
  const js = jetstream(await connectTo(t, server?.url ?? ""));
  const forge = async (id: string, text: string) => {
    const e = { id, source: "test", principal: "p", type: "t.x", body: text };
    const ack = await js.publish(eventSubject(natsNames(app), e), text, {
      headers: eventHeaders(e, Date.now()),
    });
    return ack.seq;
  };
  const swapped = await forge("b", body); // a's sealed body under b's clear fields
  const garbage = await forge("c", "tv1.bm90IGEgc2VhbGVkIGJvZHk");
  await store.events.append([event(4, "d")]);

  const skipped: number[] = [];
  const read = await store.events.read(0, 10, (seq) => skipped.push(seq));
  assert.deepEqual(
    read.map((s) => s.event.id),
    ["a", "d"],
    "read leaves them out",
  );
  assert.deepEqual(skipped, [swapped, garbage], "and says so");
  assert.ok((a?.seq ?? 0) < swapped);
  assert.deepEqual(idsOf(await takeN(store, "f", 4)), ["a", "b:corrupt", "c:corrupt", "d"]);
  await store.events.append([event(5, "e")]);
  assert.deepEqual(idsOf(await takeN(store, "f", 1)), ["e"], "and after them, too");
});
