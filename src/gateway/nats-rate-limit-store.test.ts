import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsServer, natsUnavailable, startNatsServer } from "../../test/kit/nats-server.ts";
import {
  createNatsRateLimitStore,
  GATEWAY_RATE_STORE_UNAVAILABLE,
  openRateLimitBucket,
  type RateLimitStore,
  rateLimitKey,
} from "./index.ts";

const skip = natsUnavailable();
const limit = { perSecond: 50, burst: 10 };
let server: NatsServer;
const connections: NatsConnection[] = [];

before(async () => {
  if (skip === undefined) server = await startNatsServer();
});
after(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await server?.stop();
});

/** One "gateway": its own connection and its own store over the shared bucket. */
async function gateway(bucket = "rate", ttlMs?: number): Promise<{ store: RateLimitStore; kv: KV }> {
  const nc = await connect({ servers: server.url, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
  connections.push(nc);
  const kv = await openRateLimitBucket(nc, bucket, { timeoutMs: 500, ...(ttlMs ? { ttlMs } : {}) });
  return { store: createNatsRateLimitStore(kv), kv };
}

async function takes(store: RateLimitStore, key: string, n: number, now: number): Promise<number> {
  const waits = await Promise.all(Array.from({ length: n }, () => store.take(key, limit, 1, now)));
  return waits.filter((w) => w === 0).length;
}

test("two gateways hammering one principal admit at most its rate plus burst in total, and close to it", {
  skip,
}, async () => {
  const [a, b] = [await gateway(), await gateway()];
  const key = "principal:svc/a b*>"; // characters a KV key may not hold
  const admitted = [0, 0];
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  const start = Date.now();
  const hammer = async (store: RateLimitStore, i: number) => {
    while (Date.now() - start < 2000) {
      const now = Date.now();
      first = Math.min(first, now);
      last = Math.max(last, now);
      if ((await store.take(key, limit, 1, now)) === 0) admitted[i] = (admitted[i] ?? 0) + 1;
      else await sleep(2);
    }
  };
  await Promise.all([a, b].flatMap(({ store }, i) => [0, 1, 2, 3].map(() => hammer(store, i))));
  const total = (admitted[0] ?? 0) + (admitted[1] ?? 0);
  const allowed = (limit.perSecond * (last - first)) / 1000 + limit.burst;
  assert.ok(total <= allowed, `admitted ${total} in ${last - first} ms; at most ${allowed}`);
  assert.ok(total >= 0.6 * allowed, `admitted ${total} of ${allowed}: starved`);
  assert.ok((admitted[0] ?? 0) > 0 && (admitted[1] ?? 0) > 0, `each gateway admits some: ${admitted}`);
});

test("with the clock held still, concurrent takes from two gateways admit exactly the burst", {
  skip,
}, async () => {
  const [a, b] = [await gateway(), await gateway()];
  const now = Date.now();
  const counts = await Promise.all([
    takes(a.store, "principal:still", 30, now),
    takes(b.store, "principal:still", 30, now),
    takes(a.store, "principal:still", 30, now),
  ]);
  assert.equal(
    counts.reduce((x, y) => x + y),
    limit.burst,
  );
});

test("a take that loses a compare-and-set race reads again and is counted, not lost", { skip }, async () => {
  const [a, b] = [await gateway(), await gateway()];
  const now = Date.now();
  assert.equal(await a.store.take("principal:race", limit, 1, now), 0); // a remembers revision 1
  assert.equal(await b.store.take("principal:race", limit, 1, now), 0); // revision 2: a's is stale
  assert.equal(await a.store.take("principal:race", limit, 1, now), 0); // conflict, read, retry
  const entry = await a.kv.get(rateLimitKey("principal:race"));
  assert.equal(entry?.json<{ tokens: number }>().tokens, limit.burst - 3);
});

test("an idle key expires from the bucket and comes back full", { skip }, async () => {
  const a = await gateway("rate-short", 1000);
  const now = Date.now();
  assert.equal(await a.store.take("ip:::1", limit, limit.burst, now), 0);
  assert.ok((await a.store.take("ip:::1", limit, 1, now)) > 0);
  const name = rateLimitKey("ip:::1");
  assert.notEqual(await a.kv.get(name), null);
  const deadline = Date.now() + 15_000;
  while ((await a.kv.get(name)) !== null && Date.now() < deadline) await sleep(200);
  assert.equal(await a.kv.get(name), null, "expired after its max age");
  const fresh = await gateway("rate-short", 1000);
  assert.equal(await fresh.store.take("ip:::1", limit, limit.burst, now), 0);
});

test("the store refuses with a retryable 503 while NATS is down, and works again after", {
  skip,
}, async () => {
  const a = await gateway();
  assert.equal(await a.store.take("principal:down", limit, 1, Date.now()), 0);
  await server.kill();
  const refused = await Promise.resolve(a.store.take("principal:other", limit, 1, Date.now())).then(
    () => assert.fail("admitted without the store"),
    (err: unknown) => err,
  );
  assert.equal((refused as { code: string }).code, GATEWAY_RATE_STORE_UNAVAILABLE);
  assert.equal((refused as { status: number }).status, 503);
  assert.equal((refused as { retryable: boolean }).retryable, true);
  assert.deepEqual((refused as { details: unknown }).details, { retryAfterSec: 1 });
  await server.restart();
  const deadline = Date.now() + 20_000;
  let wait: unknown;
  while (Date.now() < deadline) {
    wait = await Promise.resolve(a.store.take("principal:down", limit, 1, Date.now())).catch(
      (e: unknown) => e,
    );
    if (wait === 0) break;
    await sleep(200);
  }
  assert.equal(wait, 0, "admits again once NATS is back");
});
