import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  createAuthenticator,
  createGateway,
  createNatsRateLimitStore,
  GATEWAY_RATE_STORE_UNAVAILABLE,
  openRateLimitBucket,
} from "../src/gateway/index.ts";
import { DEFAULT_SOURCES, type PrincipalSpec } from "../src/manifest/index.ts";
import { createLogger, createMetrics } from "../src/observe/index.ts";
import { type NatsServer, natsUnavailable, startNatsServer } from "./kit/nats-server.ts";

const skip = natsUnavailable();
const KEY = "shop-key-0123456789abcdef";
const rateLimit = { perSecond: 50, burst: 10 };
const shop: PrincipalSpec = {
  name: "shop",
  auth: { kind: "apiKey", secret: "shop-key" },
  publish: ["order.*"],
  rateLimit,
};
let server: NatsServer;
const connections: NatsConnection[] = [];

before(async () => {
  if (skip === undefined) server = await startNatsServer();
});
after(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await server?.stop();
});

/** A gateway on its own NATS connection and port, sharing the app's rate limit bucket. */
async function startGateway(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const nc = await connect({ servers: server.url });
  connections.push(nc);
  const kv = await openRateLimitBucket(nc, "shop-rate-limits", { timeoutMs: 500 });
  const secret = (name: string) => (name === "shop-key" ? [KEY] : []);
  const gateway = createGateway({
    sources: DEFAULT_SOURCES,
    // The data path is not under test: accept what passed the gateway.
    ingest: async (drafts) => drafts.map(() => ({ id: randomUUID(), duplicate: false })),
    authenticate: createAuthenticator(new Map([["shop", shop]]), secret),
    principalLimit: () => rateLimit,
    rateLimits: createNatsRateLimitStore(kv),
    secret,
    metrics: createMetrics(),
    logger: createLogger({ level: "silent" }),
  });
  t.after(() => gateway.close());
  return `${await gateway.listen({ port: 0, host: "127.0.0.1" })}/events`;
}

async function send(url: string): Promise<{ status: number; retryAfter: string | null; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ type: "order.created", data: { n: 1 } }),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), text: await res.text() };
}

test("two gateways accept at most the principal's rate plus burst in total, and answer 429 with Retry-After beyond", {
  skip,
}, async (t) => {
  const urls = [await startGateway(t), await startGateway(t)];
  const statuses = new Map<number, number>();
  const others: string[] = [];
  let retryAfter: string | null = null;
  const start = Date.now();
  const hammer = async (url: string) => {
    while (Date.now() - start < 2000) {
      const res = await send(url);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 202 && res.status !== 429) others.push(`${res.status} ${res.text}`);
      if (res.status === 429) {
        retryAfter = res.retryAfter;
        await sleep(2);
      }
    }
  };
  await Promise.all(urls.flatMap((url) => [url, url, url].map(hammer)));
  const elapsed = Date.now() - start;
  const accepted = statuses.get(202) ?? 0;
  const allowed = (rateLimit.perSecond * elapsed) / 1000 + rateLimit.burst;
  assert.deepEqual(others, [], "only 202 and 429");
  assert.ok(accepted <= allowed, `accepted ${accepted} in ${elapsed} ms; at most ${allowed}`);
  assert.ok(accepted >= 0.5 * allowed, `accepted ${accepted} of ${allowed}: starved`);
  assert.equal(retryAfter, "1");
});

test("with NATS down a gateway answers 503 with Retry-After, not an unlimited 202", { skip }, async (t) => {
  const url = await startGateway(t);
  assert.equal((await send(url)).status, 202);
  await server.kill();
  const res = await send(url);
  const body = JSON.parse(res.text) as { error: { code: string } };
  assert.equal(res.status, 503);
  assert.equal(res.retryAfter, "1");
  assert.equal(body.error.code, GATEWAY_RATE_STORE_UNAVAILABLE);
});
