import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { natsUnavailable, suiteNatsServer } from "../../test/kit/nats-server.ts";
import { openNatsUsageStore, type UsageStore } from "./index.ts";

const skip = natsUnavailable();
let buckets = 0;

/** A node writing capability use to `bucket` over a connection of its own. */
async function node(t: TestContext, url: string, bucket: string): Promise<UsageStore> {
  const nc = await connect({ servers: url });
  const usage = await openNatsUsageStore(nc, bucket, { replicas: 1 });
  t.after(async () => {
    await usage.close();
    await nc.close();
  });
  return usage;
}

describe("capability use on NATS", { skip }, () => {
  const nats = suiteNatsServer();

  test("two workers counting the same row at once lose no increment", async (t) => {
    const bucket = `usage_${++buckets}`;
    const [a, b] = [await node(t, nats.url, bucket), await node(t, nats.url, bucket)];
    const n = 300;
    // Interleaved records and flushes: each flush races the other node's writes to the same row.
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      for (const w of [a, b]) w.record("work", "emit", "job.done", "used");
      if (i % 7 === 0) flushes.push(a.flush(), b.flush());
    }
    b.record("work", "emit", "job.other", "denied", "not granted");
    await Promise.all([...flushes, a.flush(), b.flush()]);
    const reader = await node(t, nats.url, bucket);
    const rows = await reader.rows();
    assert.deepEqual(
      rows.map((r) => [r.fn, r.kind, r.target, r.outcome, r.count, r.lastReason]),
      [
        ["work", "emit", "job.done", "used", 2 * n, null],
        ["work", "emit", "job.other", "denied", 1, "not granted"],
      ],
    );
  });

  test("a flush written twice counts once, and close writes what is still in memory", async (t) => {
    const bucket = `usage_${++buckets}`;
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const w = await openNatsUsageStore(nc, bucket, { replicas: 1 });
    assert.deepEqual(await w.rows(), []); // a new bucket: nothing yet
    w.record("work", "secret", "API_TOKEN", "used");
    await w.flush();
    await w.flush();
    w.record("work", "secret", "API_TOKEN", "used");
    await w.close(); // no flush before: close must write it
    const rows = await (await node(t, nats.url, bucket)).rows();
    assert.deepEqual(
      rows.map((r) => [r.target, r.count]),
      [["API_TOKEN", 2]],
    );
  });

  test("a value that is not a usage row is skipped, not counted or trusted", async (t) => {
    const bucket = `usage_${++buckets}`;
    const w = await node(t, nats.url, bucket);
    w.record("work", "kv-write", "orders", "used");
    await w.flush();
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const kv = await new Kvm(jetstream(nc)).open(bucket);
    await kv.put("planted.x", "not json");
    await kv.put(
      "planted.y",
      JSON.stringify({ fn: "work", kind: "emit", target: "x", outcome: "used", count: "9" }),
    );
    const rows = await w.rows();
    assert.deepEqual(
      rows.map((r) => [r.kind, r.target, r.count]),
      [["kv-write", "orders", 1]],
    );
  });

  test("a planted row with a negative count or an unknown kind is skipped: it cannot hide a grant's use", async (t) => {
    const bucket = `usage_${++buckets}`;
    const w = await node(t, nats.url, bucket);
    w.record("work", "kv-write", "orders", "used");
    await w.flush();
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const kv = await new Kvm(jetstream(nc)).open(bucket);
    const row = {
      fn: "work",
      kind: "kv-write",
      target: "orders",
      outcome: "used",
      lastAt: 1,
      lastReason: null,
    };
    // Added to the real row, -1 would make "kv orders" look never used (and `suggest` drop it).
    await kv.put("planted.a", JSON.stringify({ ...row, count: -1 }));
    await kv.put("planted.b", JSON.stringify({ ...row, kind: "root", count: 5 }));
    await kv.put("planted.c", JSON.stringify({ ...row, count: 2, lastAt: "yesterday" }));
    const rows = await w.rows();
    assert.deepEqual(
      rows.map((r) => [r.kind, r.target, r.count]),
      [["kv-write", "orders", 1]],
    );
  });
});
