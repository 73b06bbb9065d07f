/**
 * For this folder's tests: connections to a test's own nats-server and stores opened on them,
 * all closed when the test ends.
 */
import type { TestContext } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { RawDelivery, RawEvent, Subscription } from "../store.ts";
import { type NatsRawStore, type NatsRawStoreOptions, openNatsRawStore } from "./nats-raw-store.ts";

let apps = 0;

/** A fresh app name, so tests on one server never share streams. */
export function freshApp(): string {
  apps++;
  return `t${process.pid}x${apps}`;
}

/** A connection to `url`, closed after `t`. */
export async function connectTo(t: TestContext, url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
  t.after(() => nc.close());
  return nc;
}

/** A store on `nc`, closed after `t`. */
export async function openTestStore(
  t: TestContext,
  nc: NatsConnection,
  app: string,
  subscriptions: readonly Subscription[],
  options: Partial<NatsRawStoreOptions> = {},
): Promise<NatsRawStore> {
  const store = await openNatsRawStore(nc, {
    app,
    replicas: 1,
    dedupeWindowMs: 60_000,
    subscriptions,
    accepts: () => true,
    fetchExpiresMs: 1_000,
    ...options,
  });
  t.after(() => store.close());
  return store;
}

/** A raw event with a plain body. */
export function rawEvent(id: string, type = "t.x", principal = "p", source = "test"): RawEvent {
  return { id, source, principal, type, body: JSON.stringify({ id, type, source, principal }) };
}

/** Takes from `target` until `n` deliveries came (or `ms` passed). */
export async function takeUntil(
  store: NatsRawStore,
  target: string,
  n: number,
  ms = 15_000,
): Promise<Awaited<ReturnType<NatsRawStore["take"]>>> {
  const out: Awaited<ReturnType<NatsRawStore["take"]>> = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) {
    out.push(...(await store.take(target, n - out.length)));
    if (out.length < n) await new Promise((r) => setTimeout(r, 50));
  }
  return out;
}

/** The DeliveryRef of a raw delivery, as `settle` takes it. */
export const ref = (d: RawDelivery) => ({
  seq: d.seq,
  target: d.target,
  attempts: d.attempts,
  eventId: d.record.id,
  type: d.record.type,
});
