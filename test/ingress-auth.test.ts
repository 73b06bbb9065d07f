import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startPlatform } from "../src/main.ts";
import { KEYS, signWebhook, startAuthApp } from "./kit/auth-app.ts";
import { post } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, tempApp } from "./kit/temp-app.ts";

test("each authentication method admits its principal, and events carry that principal", async (t) => {
  const app = await startAuthApp(t);
  const byKey = await post(
    app.events,
    { type: "order.cancelled", data: { n: 1 } },
    "application/json",
    KEYS.shop,
  );
  assert.equal(byKey.status, 202, JSON.stringify(byKey.body)); // order.* grants order.cancelled
  const byJwt = await post(
    app.events,
    { type: "order.created", data: { n: 2 } },
    "application/json",
    await app.jwt(),
  );
  assert.equal(byJwt.status, 202, JSON.stringify(byJwt.body));
  const body = JSON.stringify({ amount: 12, currency: "EUR" });
  const now = Math.floor(Date.now() / 1000);
  const hook = await fetch(app.hook, { method: "POST", headers: signWebhook("msg_abc", now, body), body });
  assert.equal(hook.status, 202);
  assert.deepEqual(await hook.json(), { ids: ["msg_abc"] });

  await app.logs.waitFor(() => app.logs.lines.filter((l) => l.msg === "reached").length === 3);
  const reached = app.logs.lines.filter((l) => l.msg === "reached");
  assert.deepEqual(reached.map((l) => `${l.principal} ${l.type}`).sort(), [
    "partner order.created",
    "shop order.cancelled",
    "webhook:/hooks/pay payment.webhook",
  ]);
  assert.deepEqual(reached.find((l) => l.type === "payment.webhook")?.data, { amount: 12, currency: "EUR" });
  const stored = await app.platform.store.events.read(0, 10);
  assert.equal(stored.find((s) => s.event.id === "msg_abc")?.event.source, "palisade://webhooks/hooks/pay");
});

test("a 401 says how to authenticate and carries WWW-Authenticate; a 403 names the grant to add", async (t) => {
  const app = await startAuthApp(t);
  const res = await fetch(app.events, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), "Bearer");
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /Authorization: Bearer/);
  const forbidden = await post(
    app.events,
    { type: "order.created", data: { n: 1 } },
    "application/json",
    KEYS.reader,
  );
  assert.deepEqual(forbidden.body.error, {
    code: "PAL_SECURITY_FORBIDDEN",
    message:
      'Principal "reader" may not publish "order.created"; add it to principals.reader.publish in palisade.yaml',
    details: [{ pointer: "/type", message: "is not in the principal's publish list" }],
  });
});

test("a JWT principal can take its keys from a JWKS URL", async (t) => {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "e1", alg: "ES256" }] });
  let fetched = 0;
  const server = createServer((_req, res) => {
    fetched++;
    res.setHeader("content-type", "application/json");
    res.end(jwks);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const dir = tempApp(t, {
    "palisade.yaml": `name: remote\nevents:\n  order.created: { schema: schemas/n.json }\nprincipals:\n  partner: { jwt: { issuer: https://id.test, audience: shop, jwks: "http://127.0.0.1:${port}/jwks" }, publish: [order.created] }\nfunctions: {}\n`,
    "schemas/n.json": NUMBER_SCHEMA,
  });
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: "e1" })
    .setIssuer("https://id.test")
    .setAudience("shop")
    .setExpirationTime("5m")
    .sign(privateKey);
  const res = await post(
    `${platform.url}/events`,
    { type: "order.created", data: { n: 1 } },
    "application/json",
    token,
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.ok(fetched >= 1);
});

test("an app with no principals refuses every event, whatever credentials are sent", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": "name: closed\nevents:\n  order.created: { schema: schemas/n.json }\nfunctions: {}\n",
    "schemas/n.json": NUMBER_SCHEMA,
  });
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  for (const key of [null, "anything", KEYS.shop]) {
    const res = await post(
      `${platform.url}/events`,
      { type: "order.created", data: { n: 1 } },
      "application/json",
      key,
    );
    assert.equal(res.status, 401);
    assert.match(res.body.error.message, /No principal may publish here/);
  }
  assert.equal((await platform.store.events.read(0, 10)).length, 0);
});
