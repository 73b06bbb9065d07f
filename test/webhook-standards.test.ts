/**
 * The webhook standards in full: the CloudEvents HTTP Webhook handshake (`OPTIONS` with
 * `WebHook-Request-Origin`) on `/events` and on webhook paths, and Standard Webhooks' retries: the
 * same `webhook-id` with the same body is acknowledged and stored once, so a sender that missed
 * the first answer stops retrying; the same id on other content stays refused. On the embedded log
 * (across a restart) and on NATS (across two gateways).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { KEYS, signWebhook, startAuthApp, WEBHOOK_SECRET } from "./kit/auth-app.ts";
import { palisade, palisadeJson, sleep, waitUntil } from "./kit/cli-run.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { logged, setNatsSecret, startRole } from "./kit/scale-out.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const asked = { "webhook-request-origin": "events.sender.example" };

type Refusal = { error: { code: string; message: string } };

test("OPTIONS answers the CloudEvents webhook handshake on webhook paths and /events, and says what is missing", async (t) => {
  const app = await startAuthApp(t);
  // A webhook path: its own sender, its own limit (the default 100/s here), per minute.
  const hook = await fetch(app.hook, { method: "OPTIONS", headers: asked });
  assert.equal(hook.status, 200);
  assert.equal(hook.headers.get("webhook-allowed-origin"), "events.sender.example");
  assert.match(hook.headers.get("allow") ?? "", /\bPOST\b/);
  const hookRate = Number(hook.headers.get("webhook-allowed-rate"));
  assert.ok(Number.isInteger(hookRate) && hookRate > 0, "the webhook's own limit, per minute");
  // A sender asking for less gets what it asked; asking for more gets the limit.
  const less = await fetch(app.hook, {
    method: "OPTIONS",
    headers: { ...asked, "webhook-request-rate": "7" },
  });
  assert.equal(less.headers.get("webhook-allowed-rate"), "7");
  const more = await fetch(app.hook, {
    method: "OPTIONS",
    headers: { ...asked, "webhook-request-rate": String(hookRate + 1) },
  });
  assert.equal(more.headers.get("webhook-allowed-rate"), String(hookRate));

  // /events: each principal has its own limit, told to a sender that shows its credentials.
  const anonymous = await fetch(app.events, { method: "OPTIONS", headers: asked });
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.headers.get("webhook-allowed-origin"), "events.sender.example");
  assert.equal(anonymous.headers.get("webhook-allowed-rate"), null, "no principal, no rate to promise");
  const slow = await fetch(app.events, {
    method: "OPTIONS",
    headers: { ...asked, authorization: `Bearer ${KEYS.slow}` },
  });
  assert.equal(slow.status, 200);
  assert.equal(slow.headers.get("webhook-allowed-rate"), "30", "slow's 0.5/s is 30 per minute");
  const forged = await fetch(app.events, {
    method: "OPTIONS",
    headers: { ...asked, authorization: "Bearer not-a-key" },
  });
  assert.equal(forged.status, 401, "credentials shown on the handshake are checked as a POST's are");
  const rateNoKey = await fetch(app.events, {
    method: "OPTIONS",
    headers: { ...asked, "webhook-request-rate": "60" },
  });
  assert.equal(rateNoKey.status, 401);
  assert.match(((await rateNoKey.json()) as Refusal).error.message, /needs the credentials/);

  // Missing or malformed headers: 400 naming them.
  const bare = await fetch(app.hook, { method: "OPTIONS" });
  assert.equal(bare.status, 400);
  const body = (await bare.json()) as Refusal;
  assert.equal(body.error.code, "PAL_GATEWAY_BAD_REQUEST");
  assert.match(body.error.message, /send a WebHook-Request-Origin header/);
  const spaced = await fetch(app.events, { method: "OPTIONS", headers: { "webhook-request-origin": "a b" } });
  assert.equal(spaced.status, 400);
  const badRate = await fetch(app.hook, {
    method: "OPTIONS",
    headers: { ...asked, "webhook-request-rate": "-5" },
  });
  assert.equal(badRate.status, 400);
  assert.match(
    ((await badRate.json()) as Refusal).error.message,
    /WebHook-Request-Rate must be a positive integer/,
  );

  // The handshake grants nothing: a POST still needs its credentials, and the gateway still works.
  const unsigned = await fetch(app.hook, { method: "POST", headers: asked, body: "{}" });
  assert.equal(unsigned.status, 401);
  const now = Math.floor(Date.now() / 1000);
  const signed = await fetch(app.hook, {
    method: "POST",
    headers: signWebhook("msg_hs", now, "{}"),
    body: "{}",
  });
  assert.equal(signed.status, 202);
});

test("a webhook retried with the same id and body is acknowledged and stored once; other content under the id is refused", async (t) => {
  const app = await startAuthApp(t);
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ amount: 7, currency: "EUR" });
  const post = (id: string, content: string, timestamp = now) =>
    fetch(app.hook, { method: "POST", headers: signWebhook(id, timestamp, content), body: content });

  const first = await post("msg_retry", body);
  assert.equal(first.status, 202);
  assert.deepEqual(await first.json(), { ids: ["msg_retry"] });
  // Retries, signed again a little later as senders do: the same message, the same answer.
  for (const timestamp of [now, now + 1]) {
    const retry = await post("msg_retry", body, timestamp);
    assert.equal(retry.status, 202);
    assert.deepEqual(await retry.json(), { ids: ["msg_retry"], duplicate: true });
  }
  const other = await post("msg_retry", JSON.stringify({ amount: 7000, currency: "EUR" }));
  assert.equal(other.status, 409);
  const refused = (await other.json()) as Refusal;
  assert.equal(refused.error.code, "PAL_GATEWAY_WEBHOOK_REPLAY");
  assert.match(refused.error.message, /already received with other content; .*new webhook-id/);
  // The same JSON in other bytes is other content: the raw body is what the sender signed.
  const respaced = await post("msg_retry", JSON.stringify({ amount: 7, currency: "EUR" }, null, 1));
  assert.equal(respaced.status, 409);

  // Stored once, with the digest of its raw body; delivered once.
  await app.logs.waitFor((l) => l.msg === "reached" && l.type === "payment.webhook");
  await sleep(300); // let any (wrong) second delivery show up
  const stored = (await app.platform.store.events.find("msg_retry")).filter(
    (s) => s.event.principal === "webhook:/hooks/pay",
  );
  assert.equal(stored.length, 1);
  assert.deepEqual(stored[0]?.event.data, { amount: 7, currency: "EUR" });
  const digest = createHash("sha256").update(body).digest("hex");
  assert.equal(stored[0]?.event.extensions?.webhookbodysha256, digest);
  assert.equal(app.logs.lines.filter((l) => l.msg === "reached" && l.type === "payment.webhook").length, 1);

  // The gateway keeps working: a new id is a new message.
  assert.equal((await post("msg_next", body)).status, 202);
});

test("a webhook id counts as seen only once its event is stored, and stays seen across a restart", async (t) => {
  const app = await startAuthApp(t);
  const now = Math.floor(Date.now() / 1000);
  const post = (url: string, id: string, content: string) =>
    fetch(url, { method: "POST", headers: signWebhook(id, now, content), body: content });
  // Refused before it was stored (the schema wants an object): the id is not used up by it.
  const invalid = await post(app.hook, "msg_late", "[1]");
  assert.equal(invalid.status, 400);
  const body = JSON.stringify({ amount: 3 });
  const accepted = await post(app.hook, "msg_late", body);
  assert.equal(accepted.status, 202);
  assert.deepEqual(await accepted.json(), { ids: ["msg_late"] }, "stored now, not taken for a retry");

  // The replay window is the durable log: after a restart a retry is still one, other content not.
  await app.platform.close();
  const logs = captureLogs();
  const again = await startPlatform({ appDir: app.dir, logger: logs.logger, port: 0 });
  t.after(() => again.close());
  const hook = `${again.url}/hooks/pay`;
  const retry = await post(hook, "msg_late", body);
  assert.equal(retry.status, 202);
  assert.deepEqual(await retry.json(), { ids: ["msg_late"], duplicate: true });
  assert.equal((await post(hook, "msg_late", JSON.stringify({ amount: 4 }))).status, 409);
  assert.equal((await again.store.events.find("msg_late")).length, 1);
});

test("on NATS, a retry reaching another gateway is acknowledged and stored once; other content is refused", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = webhookApp(t);
  const built = await palisade(["build", dir]);
  assert.equal(built.status, 0, built.stderr);
  setSecret(dir, "PAY_WEBHOOK_SECRET", WEBHOOK_SECRET); // makes the app's master key too
  setNatsSecret(dir, nats.url, "PAY_WEBHOOK_SECRET", WEBHOOK_SECRET);
  const lazy = ["--accept-lazy-fsync"];
  const roles = { seedSecret: false };
  const a = await startRole(t, "gateway", dir, nats.url, lazy, roles);
  const b = await startRole(t, "gateway", dir, nats.url, lazy, roles);
  const worker = await startRole(t, "worker", dir, nats.url, lazy, roles);

  const handshake = await fetch(`${b.url}/hooks/pay`, { method: "OPTIONS", headers: asked });
  assert.equal(handshake.status, 200);
  assert.equal(handshake.headers.get("webhook-allowed-origin"), "events.sender.example");

  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ amount: 9 });
  const post = (url: string, content: string, timestamp = now) =>
    fetch(`${url}/hooks/pay`, {
      method: "POST",
      headers: signWebhook("msg_nats", timestamp, content),
      body: content,
    });
  const first = await post(a.url, body);
  assert.equal(first.status, 202, await first.clone().text());
  assert.deepEqual(await first.json(), { ids: ["msg_nats"] });
  for (const gateway of [b, a]) {
    const retry = await post(gateway.url, body, now + 1);
    assert.equal(retry.status, 202);
    assert.deepEqual(await retry.json(), { ids: ["msg_nats"], duplicate: true });
  }
  const other = await post(b.url, JSON.stringify({ amount: 9000 }));
  assert.equal(other.status, 409);
  assert.equal(((await other.json()) as Refusal).error.code, "PAL_GATEWAY_WEBHOOK_REPLAY");

  // One stored event, one delivery, run once.
  const onNats = ["--nats", nats.url, "--app", dir];
  type Page = { events: { id: string; deliveries: { state: string }[] }[] };
  await waitUntil(
    "the delivery settled",
    async () => {
      const page = (await palisadeJson(["events", "list", ...onNats])) as Page;
      return page.events.some((e) => e.deliveries.some((d) => d.state === "delivered"));
    },
    60_000,
  );
  await sleep(300); // let any (wrong) second delivery show up
  const page = (await palisadeJson(["events", "list", ...onNats])) as Page;
  assert.deepEqual(
    page.events.map((e) => [e.id, e.deliveries.map((d) => d.state)]),
    [["msg_nats", ["delivered"]]],
  );
  assert.deepEqual(logged([worker], "reached", "amount"), [9]);
});

/** An app with one webhook source and one function that logs what reached it. */
function webhookApp(t: import("node:test").TestContext): string {
  return tempApp(t, {
    "palisade.yaml": `name: hooks
events:
  payment.webhook: { schema: schemas/any.json }
sources:
  - webhook: { path: /hooks/pay, secret: PAY_WEBHOOK_SECRET, emit: payment.webhook }
functions:
  sink:
    handler: functions/sink.ts
    on: [payment.webhook]
`,
    "schemas/any.json": { type: "object" },
    "functions/sink.ts":
      'export default (e, ctx) => { ctx.log.info("reached", { amount: e.data.amount }); };',
  });
}
