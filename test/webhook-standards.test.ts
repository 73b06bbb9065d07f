/**
 * The webhook standards in full: the CloudEvents HTTP Webhook handshake (`OPTIONS` with
 * `WebHook-Request-Origin`) on `/events` and on webhook paths, and Standard Webhooks' retries: the
 * same `webhook-id` with the same body is acknowledged and stored once, so a sender that missed
 * the first answer stops retrying; the same id on other content stays refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { signWebhook, startAuthApp } from "./kit/auth-app.ts";
import { sleep } from "./kit/cli-run.ts";

test("OPTIONS answers the CloudEvents webhook handshake on /events and webhook paths, and says what is missing", async (t) => {
  const app = await startAuthApp(t);
  const asked = { "webhook-request-origin": "events.sender.example" };
  const events = await fetch(app.events, { method: "OPTIONS", headers: asked });
  assert.equal(events.status, 200);
  assert.equal(events.headers.get("webhook-allowed-origin"), "events.sender.example");
  assert.match(events.headers.get("allow") ?? "", /\bPOST\b/);
  assert.equal(events.headers.get("webhook-allowed-rate"), null, "each principal has its own rate");

  const hook = await fetch(app.hook, { method: "OPTIONS", headers: asked });
  assert.equal(hook.status, 200);
  assert.equal(hook.headers.get("webhook-allowed-origin"), "events.sender.example");
  assert.match(
    hook.headers.get("webhook-allowed-rate") ?? "",
    /^\d+$/,
    "the webhook's own limit, per minute",
  );

  const bare = await fetch(app.hook, { method: "OPTIONS" });
  assert.equal(bare.status, 400);
  const body = (await bare.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "PAL_GATEWAY_BAD_REQUEST");
  assert.match(body.error.message, /send a WebHook-Request-Origin header/);

  // The handshake grants nothing: a POST still needs its credentials.
  const unsigned = await fetch(app.hook, { method: "POST", headers: asked, body: "{}" });
  assert.equal(unsigned.status, 401);
});

test("a webhook retried with the same id and body is acknowledged and stored once; other content under the id is refused", async (t) => {
  const app = await startAuthApp(t);
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ amount: 7, currency: "EUR" });
  const post = (id: string, content: string, timestamp = now) =>
    fetch(app.hook, { method: "POST", headers: signWebhook(id, timestamp, content), body: content });

  const first = await post("msg_retry", body);
  assert.equal(first.status, 202);
  // A retry, signed again a little later as senders do: the same message.
  for (const timestamp of [now, now + 1]) {
    const retry = await post("msg_retry", body, timestamp);
    assert.equal(retry.status, 202);
    assert.deepEqual(await retry.json(), { ids: ["msg_retry"], duplicate: true });
  }
  const other = await post("msg_retry", JSON.stringify({ amount: 7000, currency: "EUR" }));
  assert.equal(other.status, 409);
  const refused = (await other.json()) as { error: { code: string; message: string } };
  assert.equal(refused.error.code, "PAL_GATEWAY_WEBHOOK_REPLAY");
  assert.match(refused.error.message, /already received with other content; .*new id/);

  // Stored once, delivered once.
  await app.logs.waitFor((l) => l.msg === "reached" && l.type === "payment.webhook");
  await sleep(300); // let any (wrong) second delivery show up
  const stored = (await app.platform.store.events.find("msg_retry")).filter(
    (s) => s.event.principal === "webhook:/hooks/pay",
  );
  assert.equal(stored.length, 1);
  assert.deepEqual(stored[0]?.event.data, { amount: 7, currency: "EUR" });
  assert.equal(app.logs.lines.filter((l) => l.msg === "reached" && l.type === "payment.webhook").length, 1);

  // The gateway keeps working: a new id is a new message.
  assert.equal((await post("msg_next", body)).status, 202);
});
