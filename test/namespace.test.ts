import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { signWebhook, WEBHOOK_SECRET } from "./kit/auth-app.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp } from "./kit/temp-app.ts";

// The platform's namespace belongs to the platform: a principal allowed to publish something tries
// to make another origin's events disappear (dedupe pre-emption) or to pass for the platform; each
// attempt fails, and the victim's event is delivered.

const MALLORY_KEY = "mallory-key-0123456789abcdefgh";
const SHOP_KEY = "shop-key-0123456789abcdefghijk";
const CE = "application/cloudevents+json";

async function start(t: TestContext, manifest: string, files: Record<string, string | object>) {
  const dir = tempApp(t, { "palisade.yaml": manifest, "schemas/n.json": NUMBER_SCHEMA, ...files });
  setSecret(dir, "MALLORY_KEY", MALLORY_KEY);
  setSecret(dir, "SHOP_KEY", SHOP_KEY);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "PAY_WEBHOOK_SECRET", WEBHOOK_SECRET);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  return { dir, logs, platform, events: `${platform.url}/events` };
}

/** A structured-mode CloudEvent sent as `key`. */
function sendCe(url: string, key: string, attrs: Record<string, unknown>) {
  return post(url, { specversion: "1.0", ...attrs }, CE, key);
}

function assertReservedSource(res: { status: number; body: any }, what: string): void {
  assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, "PAL_EVENT_INVALID");
  assert.deepEqual(
    res.body.error.details.map((d: { pointer: string }) => d.pointer),
    ["/source"],
  );
  assert.match(res.body.error.message, /only the platform may use/);
}

test("another principal's event id and a function's emits mid-chain cannot be pre-empted; the victim's chain is delivered", async (t) => {
  const app = await start(
    t,
    `name: ns
events:
  order.created: { schema: schemas/n.json }
  payment.charged: { schema: schemas/n.json }
  noise.made: { schema: schemas/n.json }
principals:
  shop: { apiKey: { secret: SHOP_KEY }, publish: [order.created] }
  mallory: { apiKey: { secret: MALLORY_KEY }, publish: [order.created, noise.made] }
functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
    emit: [payment.charged]
  ledger:
    handler: functions/ledger.ts
    on: [payment.charged]
`,
    {
      "functions/charge.ts":
        'export default async (e, ctx) => { ctx.log.info("charged", { n: e.data.n, by: e.principal }); await ctx.emit("payment.charged", { n: e.data.n }); };',
      "functions/ledger.ts":
        'export default (e, ctx) => ctx.log.info("ledger", { n: e.data.n, by: e.principal, cause: e.causationid });',
    },
  );
  const source = "https://shop.example/orders";
  // Mallory occupies the shop's next ids under the shop's source: one with another type, one with
  // the shop's own type (so charge handles an event with the same source and id as the shop's).
  const noise = await sendCe(app.events, MALLORY_KEY, {
    id: "order-1",
    source,
    type: "noise.made",
    data: { n: 0 },
  });
  assert.equal(noise.status, 202, JSON.stringify(noise.body));
  const decoy = await sendCe(app.events, MALLORY_KEY, {
    id: "order-2",
    source,
    type: "order.created",
    data: { n: 666 },
  });
  assert.equal(decoy.status, 202, JSON.stringify(decoy.body));
  // Writing under the function's own source, where its emits live, is refused in any letter case.
  for (const fnSource of ["palisade://functions/charge", "PALISADE://Functions/charge"]) {
    const forged = await sendCe(app.events, MALLORY_KEY, {
      id: "0a1b2c3d-0000-0000-0000-000000000000",
      source: fnSource,
      type: "noise.made",
      data: { n: 0 },
    });
    assertReservedSource(forged, fnSource);
  }

  for (const n of [1, 2]) {
    const real = await sendCe(app.events, SHOP_KEY, {
      id: `order-${n}`,
      source,
      type: "order.created",
      data: { n },
    });
    assert.equal(real.status, 202, JSON.stringify(real.body));
  }
  // Every chain runs to the end: the shop's events reach charge, and charge's emits for them reach
  // the ledger, although charge handled an event with the same source and id as order-2 before.
  for (const n of [1, 2, 666]) await app.logs.waitFor((l) => l.msg === "ledger" && l.n === n);
  const charged = app.logs.lines.filter((l) => l.msg === "charged").map((l) => `${l.by} ${l.n}`);
  assert.deepEqual(charged.sort(), ["mallory 666", "shop 1", "shop 2"]);
  const ledger = app.logs.lines.filter((l) => l.msg === "ledger");
  assert.deepEqual(ledger.map((l) => `${l.by} ${l.cause} ${l.n}`).sort(), [
    "function:charge order-1 1",
    "function:charge order-2 2",
    "function:charge order-2 666",
  ]);
  const stored = (await app.platform.store.events.read(0, 100)).map((s) => s.event);
  assert.deepEqual(
    stored.filter((e) => e.principal === "shop").map((e) => e.id),
    ["order-1", "order-2"],
  );
});

test("a webhook delivery's id and its source cannot be taken by a principal; a filter on principal admits only the webhook", async (t) => {
  const app = await start(
    t,
    `name: ns
events:
  payment.webhook: { schema: schemas/any.json }
principals:
  mallory: { apiKey: { secret: MALLORY_KEY }, publish: [payment.webhook] }
sources:
  - http: { path: /events }
  - webhook: { path: /hooks/pay, secret: PAY_WEBHOOK_SECRET, emit: payment.webhook }
functions:
  bysource:
    handler: functions/sink.ts
    on: [payment.webhook]
    filter: { source: ["palisade://webhooks/hooks/pay"] }
  byprincipal:
    handler: functions/sink.ts
    on: [payment.webhook]
    filter: { principal: ["webhook:/hooks/pay"] }
  everyone:
    handler: functions/sink.ts
    on: [payment.webhook]
`,
    {
      "schemas/any.json": { type: "object" },
      "functions/sink.ts":
        'export default (e, ctx) => ctx.log.info("reached", { id: e.id, by: e.principal, forged: e.data.forged === true });',
    },
  );
  const hook = `${app.platform.url}/hooks/pay`;
  const forged = { id: "msg_1", type: "payment.webhook", data: { forged: true } };
  // The webhook's own source: refused, so a source filter cannot be passed by a sender.
  assertReservedSource(
    await sendCe(app.events, MALLORY_KEY, { ...forged, source: "palisade://webhooks/hooks/pay" }),
    "webhook source",
  );
  // Posing as the webhook's principal: refused in structured and in binary mode.
  const spoofed = await sendCe(app.events, MALLORY_KEY, {
    ...forged,
    source: "/mallory",
    principal: "webhook:/hooks/pay",
  });
  assert.equal(spoofed.status, 400);
  assert.equal(spoofed.body.error.details[0].pointer, "/principal");
  const binary = await fetch(app.events, {
    method: "POST",
    headers: {
      authorization: `Bearer ${MALLORY_KEY}`,
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "msg_1",
      "ce-source": "/mallory",
      "ce-type": "payment.webhook",
      "ce-principal": "webhook:/hooks/pay",
    },
    body: JSON.stringify({ forged: true }),
  });
  assert.equal(binary.status, 400);
  // The webhook delivery's id under a source of mallory's own: accepted, but it occupies nothing.
  const occupied = await sendCe(app.events, MALLORY_KEY, { ...forged, source: "https://evil.example" });
  assert.equal(occupied.status, 202, JSON.stringify(occupied.body));

  const body = JSON.stringify({ amount: 5 });
  const now = Math.floor(Date.now() / 1000);
  const real = await fetch(hook, { method: "POST", headers: signWebhook("msg_1", now, body), body });
  assert.equal(real.status, 202, "the webhook delivery is not taken for mallory's event");
  // "delivered" is logged once the outcome is durable: both events named msg_1, every target.
  await app.logs.waitFor(
    () => app.logs.lines.filter((l) => l.msg === "delivered" && l.eventId === "msg_1").length === 4,
  );
  // A retry of msg_1 is acknowledged (its own stored event is found, not mallory's)...
  const retried = await fetch(hook, { method: "POST", headers: signWebhook("msg_1", now, body), body });
  assert.equal(retried.status, 202, "the webhook's retry is acknowledged");
  // ...and other content under the same id is no retry of it: the replay protection holds.
  const forgedBody = JSON.stringify({ amount: 6 });
  const replayed = await fetch(hook, {
    method: "POST",
    headers: signWebhook("msg_1", now, forgedBody),
    body: forgedBody,
  });
  assert.equal(replayed.status, 409, "the webhook's own replay protection still holds");

  // Routing is in log order: the forged event came first, so its fate is settled by now.
  const reached = app.logs.lines.filter((l) => l.msg === "reached").map((l) => `${l.fn} ${l.by}`);
  assert.deepEqual(reached.sort(), [
    "byprincipal webhook:/hooks/pay",
    "bysource webhook:/hooks/pay",
    "everyone mallory",
    "everyone webhook:/hooks/pay",
  ]);
  const targets = (await app.platform.store.queue.deliveries("msg_1")).map((d) => `${d.target} ${d.state}`);
  assert.deepEqual(targets, [
    "byprincipal delivered",
    "bysource delivered",
    "everyone delivered",
    "everyone delivered",
  ]);
});

test("a schedule's coming ticks cannot be pre-empted, by its source or by its ids; every tick is delivered", async (t) => {
  const app = await start(
    t,
    `name: ns
events:
  clock.tick: { schema: schemas/n.json }
principals:
  mallory: { apiKey: { secret: MALLORY_KEY }, publish: [clock.tick] }
sources:
  - http: { path: /events }
  - schedule: { cron: "* * * * * *", emit: clock.tick, data: { n: 0 } }
functions:
  ticker:
    handler: functions/ticker.ts
    on: [clock.tick]
`,
    {
      "functions/ticker.ts":
        'export default (e, ctx) => ctx.log.info("tick", { at: e.time, by: e.principal, n: e.data.n });',
    },
  );
  const schedule = loadApp(app.dir).sources.find((s) => s.kind === "schedule");
  assert.ok(schedule?.kind === "schedule");
  const first = Math.ceil(Date.now() / 1000) * 1000 + 3000;
  const times = [0, 1, 2].map((k) => new Date(first + k * 1000).toISOString());
  for (const time of times) {
    const tick = { id: `${schedule.name}@${time}`, time, type: "clock.tick", data: { n: 7 } };
    assertReservedSource(
      await sendCe(app.events, MALLORY_KEY, { ...tick, source: `palisade://schedules/${schedule.name}` }),
      "schedule source",
    );
    const own = await sendCe(app.events, MALLORY_KEY, { ...tick, source: "https://evil.example/clock" });
    assert.equal(own.status, 202, JSON.stringify(own.body));
  }
  for (const time of times)
    await app.logs.waitFor((l) => l.msg === "tick" && l.at === time && l.by === `schedule:${schedule.name}`);
  const real = app.logs.lines.filter((l) => l.msg === "tick" && times.includes(String(l.at)));
  assert.ok(
    real.filter((l) => l.by !== "mallory").every((l) => l.n === 0),
    "the ticks are the schedule's own",
  );
});

test("a budget-exceeded alert cannot be pre-empted; it is delivered, from the platform", async (t) => {
  const app = await start(
    t,
    `name: ns
events:
  job.queued: { schema: schemas/n.json }
  noise.made: { schema: schemas/n.json }
principals:
  tester: { apiKey: { secret: TEST_KEY }, publish: [job.queued] }
  mallory: { apiKey: { secret: MALLORY_KEY }, publish: [noise.made] }
functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    limits: { dailyInvocations: 1 }
  guard:
    handler: functions/guard.ts
    on: [palisade.security.*]
`,
    {
      "functions/work.ts": 'export default (e, ctx) => ctx.log.info("worked", { n: e.data.n });',
      "functions/guard.ts":
        'export default (e, ctx) => ctx.log.info("budget alert", { target: e.data.function, by: e.principal });',
    },
  );
  // The alert's id is computable: budget-exceeded:<function>:<UTC day>.
  const id = `budget-exceeded:work:${new Date().toISOString().slice(0, 10)}`;
  for (const source of ["palisade://platform", "Palisade://Platform"])
    assertReservedSource(
      await sendCe(app.events, MALLORY_KEY, { id, source, type: "noise.made", data: { n: 0 } }),
      source,
    );
  const own = await sendCe(app.events, MALLORY_KEY, {
    id,
    source: "https://evil.example",
    type: "noise.made",
    data: { n: 0 },
  });
  assert.equal(own.status, 202, JSON.stringify(own.body));

  for (const n of [1, 2])
    assert.equal((await post(app.events, { type: "job.queued", data: { n } })).status, 202);
  const alert = await app.logs.waitFor((l) => l.msg === "budget alert");
  assert.deepEqual([alert.target, alert.by], ["work", "palisade"]);
  assert.equal(app.logs.lines.filter((l) => l.msg === "worked").length, 1, "the budget still holds");
});
