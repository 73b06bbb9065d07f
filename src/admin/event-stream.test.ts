import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { createSignals } from "../signals/index.ts";
import { createStreamHub, MAX_STREAMS, MAX_STREAMS_PER_ADMIN } from "./event-stream.ts";

/** A response that keeps what was written; `stalled` makes it report a full socket buffer. */
function fakeResponse(stalled = false) {
  const res = Object.assign(new EventEmitter(), {
    chunks: [] as string[],
    ended: false,
    writableLength: stalled ? 10 * 1024 * 1024 : 0,
    write(chunk: string) {
      res.chunks.push(chunk);
      return true;
    },
    end() {
      res.ended = true;
      res.emit("close");
    },
  });
  return res;
}

const accepted = (n: number) =>
  ({
    kind: "ingress.accepted",
    principal: "p",
    ip: "127.0.0.1",
    route: "/events",
    events: 1,
    ids: [`e${n}`],
    types: ["t"],
  }) as const;

test("signals are listened to only while a client is connected, and sent in batches", async (t) => {
  const signals = createSignals(() => {});
  const hub = createStreamHub(signals);
  t.after(() => hub.close());
  signals.emit(accepted(0)); // nobody listens: not queued
  const res = fakeResponse();
  assert.ok(hub.attach(res as unknown as ServerResponse, { admin: "a" }));
  for (let n = 1; n <= 3; n++) signals.emit(accepted(n));
  await new Promise((r) => setTimeout(r, 400));
  const batches = res.chunks.filter((c) => c.startsWith("event: batch"));
  assert.equal(batches.length, 1);
  const data = JSON.parse(batches[0]?.split("data: ")[1] ?? "{}") as {
    items: { ids: string[] }[];
    dropped: number;
  };
  assert.deepEqual(
    data.items.map((i) => i.ids[0]),
    ["e1", "e2", "e3"],
  );
  assert.equal(data.dropped, 0);
  res.emit("close");
  assert.equal(hub.clients(), 0);
});

test("a flood is counted, not queued without bound; a client that does not read is dropped", async (t) => {
  const signals = createSignals(() => {});
  const hub = createStreamHub(signals);
  t.after(() => hub.close());
  const reader = fakeResponse();
  const stalled = fakeResponse(true);
  hub.attach(reader as unknown as ServerResponse, { admin: "a" });
  hub.attach(stalled as unknown as ServerResponse, { admin: "b" });
  for (let n = 0; n < 10_000; n++) signals.emit(accepted(n));
  await new Promise((r) => setTimeout(r, 400));
  const batch = reader.chunks.find((c) => c.startsWith("event: batch")) ?? "";
  const data = JSON.parse(batch.split("data: ")[1] ?? "{}") as { items: unknown[]; dropped: number };
  assert.equal(data.items.length + data.dropped, 10_000);
  assert.ok(data.items.length <= 500);
  assert.ok(stalled.ended, "the stalled client was disconnected");
  assert.equal(hub.clients(), 1);
});

test("at most MAX_STREAMS clients at once, MAX_STREAMS_PER_ADMIN each; a closed one takes no slot", (t) => {
  const hub = createStreamHub(createSignals(() => {}));
  t.after(() => hub.close());
  const attach = (admin: string, res = fakeResponse()) =>
    hub.attach(res as unknown as ServerResponse, { admin });
  for (let i = 0; i < MAX_STREAMS_PER_ADMIN; i++) assert.ok(attach("eve"));
  assert.equal(attach("eve"), false, "one admin cannot take every slot");
  const closed = Object.assign(fakeResponse(), { destroyed: true });
  assert.ok(attach("bob", closed));
  assert.equal(
    hub.clients(),
    MAX_STREAMS_PER_ADMIN,
    "a connection closed before it was attached is not kept",
  );
  for (let i = MAX_STREAMS_PER_ADMIN; i < MAX_STREAMS; i++) assert.ok(attach(`admin${i}`));
  assert.equal(attach("late"), false);
});

test("a stream whose session ended is disconnected at the next flush", async (t) => {
  const signals = createSignals(() => {});
  const hub = createStreamHub(signals);
  t.after(() => hub.close());
  let alive = true;
  const res = fakeResponse();
  hub.attach(res as unknown as ServerResponse, { admin: "a", alive: () => alive });
  signals.emit(accepted(1));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(res.ended, false);
  alive = false;
  signals.emit(accepted(2));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(res.ended, "logged out: the stream ends");
  assert.equal(hub.clients(), 0);
});
