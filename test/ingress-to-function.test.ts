import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { post } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { copyShop, ORDER } from "./kit/shop.ts";

async function shop(t: import("node:test").TestContext) {
  const dir = copyShop(t);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  return { platform, logs, events: `${platform.url}/events` };
}

test("order.created over HTTP runs charge, whose emitted payment.charged runs notify", async (t) => {
  const { platform, logs, events } = await shop(t);
  const res = await post(events, { type: "order.created", data: ORDER });
  assert.equal(res.status, 202);
  const [id] = res.body.ids as string[];

  const charged = await logs.waitFor((l) => l.fn === "charge" && l.msg === "charging order");
  assert.equal(charged.eventId, id);
  assert.equal(charged.orderId, "o-1");
  const notified = await logs.waitFor((l) => l.fn === "notify" && l.msg === "payment confirmed");
  await logs.waitFor((l) => l.fn === "notify" && l.msg === "delivered");
  // charge's own settle can commit after notify's (both go through group commit): wait for it too.
  await logs.waitFor((l) => l.fn === "charge" && l.msg === "delivered");

  const chain = await platform.store.events.read(0, 10);
  const payment = chain.find((s) => s.event.type === "payment.charged")?.event;
  assert.ok(payment);
  assert.equal(notified.eventId, payment.id);
  assert.equal(payment.hop, 1);
  assert.equal(payment.causationid, id);
  // The chain's root is the event from outside, with the principal that sent it.
  assert.equal(payment.rootid, id);
  assert.equal(payment.rootprincipal, chain[0]?.event.principal);
  assert.equal(chain[0]?.event.rootid, id);
  assert.equal(payment.principal, "function:charge");
  // Same trace across the hop (W3C trace id is the second field).
  assert.equal(payment.traceparent.split("-")[1], chain[0]?.event.traceparent.split("-")[1]);
  assert.deepEqual(await platform.store.queue.deliveries(id ?? ""), [
    { target: "charge", state: "delivered", attempts: 1, lastError: null },
  ]);
});

test("a structured-mode CloudEvent is accepted with its own id", async (t) => {
  const { events, platform } = await shop(t);
  const res = await post(
    events,
    {
      specversion: "1.0",
      id: "ce-1",
      source: "https://shop.example/web",
      type: "order.created",
      data: ORDER,
    },
    "application/cloudevents+json",
  );
  assert.deepEqual(res, { ...res, status: 202, body: { ids: ["ce-1"] } });
  const [stored] = await platform.store.events.read(0, 1);
  assert.equal(stored?.event.source, "https://shop.example/web");
  assert.equal(stored?.event.principal, "storefront");
});

test("an invalid event gets 400 with the failing field's pointer and is never stored or delivered", async (t) => {
  const { events, platform, logs } = await shop(t);
  const res = await post(events, { type: "order.created", data: { ...ORDER, amount: -1, currency: "euro" } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "PAL_SCHEMA_INVALID_DATA");
  assert.deepEqual(res.body.error.details, [
    { pointer: "/data/amount", message: "must be > 0" },
    { pointer: "/data/currency", message: 'must match pattern "^[A-Z]{3}$"' },
  ]);
  // A valid event sent after it is delivered, and it is the only event the log ever held.
  const ok = await post(events, { type: "order.created", data: ORDER });
  await logs.waitFor((l) => l.fn === "notify" && l.msg === "delivered");
  const stored = await platform.store.events.read(0, 10);
  assert.deepEqual(
    stored.map((s) => s.event.type),
    ["order.created", "payment.charged"],
  );
  assert.equal(stored[0]?.event.id, ok.body.ids[0]);
  assert.ok(!logs.lines.some((l) => l.fn === "charge" && l.orderId !== "o-1" && l.msg === "charging order"));
});

test("bad requests get precise 4xx answers in the error format, never a stack trace", async (t) => {
  const { events, platform } = await shop(t);
  const cases: [string, number, string, () => Promise<{ status: number; body: any }>][] = [
    [
      "unknown type",
      400,
      "PAL_SCHEMA_UNKNOWN_TYPE",
      () => post(events, { type: "order.create", data: ORDER }),
    ],
    ["broken JSON", 400, "PAL_GATEWAY_BAD_JSON", () => post(events, '{"type": "order.created", ')],
    ["empty body", 400, "PAL_GATEWAY_BAD_JSON", () => post(events, "")],
    [
      "prototype poisoning",
      400,
      "PAL_GATEWAY_FORBIDDEN_KEY",
      () => post(events, '{"type":"order.created","data":{},"__proto__":{"admin":true}}'),
    ],
    [
      "spoofed principal",
      400,
      "PAL_EVENT_INVALID",
      () => post(events, { type: "order.created", data: ORDER, principal: "admin" }),
    ],
    [
      "invalid UTF-8",
      400,
      "PAL_GATEWAY_BAD_ENCODING",
      () => post(events, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
    ],
    [
      "deep nesting",
      400,
      "PAL_GATEWAY_TOO_DEEP",
      () => post(events, `{"type":"order.created","data":${"[".repeat(5000)}}`),
    ],
    [
      "form content type",
      415,
      "PAL_GATEWAY_UNSUPPORTED_MEDIA",
      () => post(events, "type=order.created", "application/x-www-form-urlencoded"),
    ],
    [
      "too large",
      413,
      "PAL_GATEWAY_TOO_LARGE",
      () => post(events, { type: "order.created", data: { pad: "x".repeat(300_000) } }),
    ],
    ["unknown route", 404, "PAL_GATEWAY_NOT_FOUND", () => post(`${platform.url}/nope`, {})],
  ];
  for (const [name, status, code, send] of cases) {
    const res = await send();
    assert.equal(res.status, status, name);
    assert.equal(res.body.error.code, code, name);
    assert.equal(typeof res.body.error.message, "string", name);
    assert.doesNotMatch(JSON.stringify(res.body), /\bat .+:\d+:\d+/, `${name}: no stack trace`);
  }
  assert.deepEqual(await platform.store.events.read(0, 10), []);
  const health = await fetch(`${platform.url}/healthz`);
  assert.deepEqual(await health.json(), { status: "ok" });
});

test("many concurrent senders are all accepted and all delivered", async (t) => {
  const { events, platform, logs } = await shop(t);
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      post(events, { type: "order.created", data: { ...ORDER, orderId: `o-${i}` } }),
    ),
  );
  assert.ok(answers.every((a) => a.status === 202));
  await logs.waitFor(
    () => logs.lines.filter((l) => l.fn === "notify" && l.msg === "delivered").length === 40,
    30000,
  );
  // charge's outcomes are recorded on their own schedule (group commit): wait for all 40 too.
  await logs.waitFor(
    () => logs.lines.filter((l) => l.fn === "charge" && l.msg === "delivered").length === 40,
    30000,
  );
  for (const a of answers) {
    const [state] = await platform.store.queue.deliveries(a.body.ids[0]);
    assert.equal(state?.state, "delivered");
  }
  assert.ok((platform.store.stats?.commits ?? 0) < (platform.store.stats?.writes ?? 0));
});
