import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { base64url } from "jose";
import { scrape } from "./kit/admin.ts";
import { KEYS, signWebhook, startAuthApp, WEBHOOK_SECRET } from "./kit/auth-app.ts";
import { type RawReply, readReply } from "./kit/read-reply.ts";

type Reply = RawReply;

/** Sends raw bytes and headers exactly as given (node:http, no fetch normalisation). */
function send(url: string, headers: Record<string, string>, body: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => resolve(readReply(res)));
    req.on("error", reject);
    req.end(body);
  });
}

const JSON_CT = { "content-type": "application/json" };
const CE_CT = { "content-type": "application/cloudevents+json" };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const order = (n: unknown = 1) => JSON.stringify({ type: "order.created", data: { n } });
const ce = (attrs: Record<string, unknown>) =>
  JSON.stringify({
    specversion: "1.0",
    id: "h-1",
    source: "/hostile",
    type: "order.created",
    data: { n: 1 },
    ...attrs,
  });

test("hostile requests: each gets the right 4xx, none reaches a function, the gateway stays up, and no credential is logged", async (t) => {
  const app = await startAuthApp(t);
  const now = Math.floor(Date.now() / 1000);
  const shop = { ...JSON_CT, ...bearer(KEYS.shop) };
  const shopCe = { ...CE_CT, ...bearer(KEYS.shop) };
  const validJwt = await app.jwt();
  const [header, payload] = validJwt.split(".") as [string, string, string];
  const hookBody = JSON.stringify({ amount: 5 });

  type Case = [name: string, status: number, code: string, run: () => Promise<Reply>];
  const events = (headers: Record<string, string>, body: string | Buffer) => () =>
    send(app.events, headers, body);
  const hook =
    (headers: Record<string, string>, body = hookBody) =>
    () =>
      send(app.hook, headers, body);
  const cases: Case[] = [
    // Authentication (401)
    ["no credentials", 401, "PAL_GATEWAY_UNAUTHENTICATED", events(JSON_CT, order())],
    [
      "basic auth",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, authorization: `Basic ${btoa("shop:x")}` }, order()),
    ],
    [
      "empty bearer",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, authorization: "Bearer " }, order()),
    ],
    [
      "unknown key",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, ...bearer("not-a-key") }, order()),
    ],
    [
      "key with a suffix",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, ...bearer(`${KEYS.shop}x`) }, order()),
    ],
    [
      "key prefix",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, ...bearer(KEYS.shop.slice(0, 10)) }, order()),
    ],
    [
      "lower-case scheme",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, authorization: `bearer ${KEYS.shop}` }, order()),
    ],
    [
      "huge token",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, ...bearer("k".repeat(9000)) }, order()),
    ],
    [
      "JWT alg none",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, ...bearer(`${base64url.encode('{"alg":"none"}')}.${payload}.`) }, order()),
    ],
    [
      "JWT HS256 with the public key as secret",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () => {
        const { SignJWT } = await import("jose");
        const secret = new TextEncoder().encode(JSON.stringify(app.publicJwk));
        const forged = await new SignJWT({})
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer("https://id.example.test")
          .setAudience("shop")
          .setExpirationTime(now + 300)
          .sign(secret);
        return send(app.events, { ...JSON_CT, ...bearer(forged) }, order());
      },
    ],
    [
      "JWT expired",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () =>
        send(app.events, { ...JSON_CT, ...bearer(await app.jwt({}, { exp: now - 3600 })) }, order()),
    ],
    [
      "JWT without exp",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () => send(app.events, { ...JSON_CT, ...bearer(await app.jwt({}, { exp: null })) }, order()),
    ],
    [
      "JWT not yet valid",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () => send(app.events, { ...JSON_CT, ...bearer(await app.jwt({ nbf: now + 3600 })) }, order()),
    ],
    [
      "JWT wrong issuer",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () =>
        send(app.events, { ...JSON_CT, ...bearer(await app.jwt({ iss: "https://evil.test" })) }, order()),
    ],
    [
      "JWT wrong audience",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () => send(app.events, { ...JSON_CT, ...bearer(await app.jwt({ aud: "other" })) }, order()),
    ],
    [
      "JWT signed by another key",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      async () =>
        send(app.events, { ...JSON_CT, ...bearer(await app.jwt({}, { key: app.otherKey })) }, order()),
    ],
    [
      "JWT with a tampered payload",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events(
        {
          ...JSON_CT,
          ...bearer(
            `${header}.${base64url.encode(JSON.stringify({ iss: "https://id.example.test", aud: "shop", exp: now + 999, sub: "admin" }))}.${validJwt.split(".")[2]}`,
          ),
        },
        order(),
      ),
    ],
    [
      "JWT malformed",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      events({ ...JSON_CT, ...bearer("eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln") }, order()),
    ],
    // Authorization (403)
    [
      "reader publishes order.created",
      403,
      "PAL_SECURITY_FORBIDDEN",
      events({ ...JSON_CT, ...bearer(KEYS.reader) }, order()),
    ],
    [
      "shop publishes audit.read",
      403,
      "PAL_SECURITY_FORBIDDEN",
      events(shop, JSON.stringify({ type: "audit.read", data: { n: 1 } })),
    ],
    [
      "partner publishes order.cancelled",
      403,
      "PAL_SECURITY_FORBIDDEN",
      async () =>
        send(
          app.events,
          { ...JSON_CT, ...bearer(validJwt) },
          JSON.stringify({ type: "order.cancelled", data: { n: 1 } }),
        ),
    ],
    [
      "batch with one forbidden event",
      403,
      "PAL_SECURITY_FORBIDDEN",
      events(
        { "content-type": "application/cloudevents-batch+json", ...bearer(KEYS.shop) },
        `[${ce({ id: "b1" })},${ce({ id: "b2", type: "audit.read" })}]`,
      ),
    ],
    // Hostile JSON (400)
    [
      "__proto__ at the top",
      400,
      "PAL_GATEWAY_FORBIDDEN_KEY",
      events(shop, '{"type":"order.created","data":{"n":1},"__proto__":{"admin":true}}'),
    ],
    [
      "__proto__ in data",
      400,
      "PAL_GATEWAY_FORBIDDEN_KEY",
      events(shop, '{"type":"order.created","data":{"n":1,"__proto__":{"x":1}}}'),
    ],
    [
      "constructor.prototype",
      400,
      "PAL_GATEWAY_FORBIDDEN_KEY",
      events(shop, '{"type":"order.created","data":{"n":1,"constructor":{"prototype":{"x":1}}}}'),
    ],
    [
      "escaped __proto__ key",
      400,
      "PAL_GATEWAY_FORBIDDEN_KEY",
      events(shop, '{"type":"order.created","data":{"n":1},"\\u005f_proto__":{"x":1}}'),
    ],
    [
      "deep arrays",
      400,
      "PAL_GATEWAY_TOO_DEEP",
      events(shop, `{"type":"order.created","data":{"n":${"[".repeat(100)}${"]".repeat(100)}}}`),
    ],
    ["deep objects", 400, "PAL_GATEWAY_TOO_DEEP", events(shop, `${'{"a":'.repeat(60)}1${"}".repeat(60)}`)],
    ["unclosed deep nesting", 400, "PAL_GATEWAY_TOO_DEEP", events(shop, "[".repeat(50000))],
    [
      "invalid UTF-8 in a string",
      400,
      "PAL_GATEWAY_BAD_ENCODING",
      events(
        shop,
        Buffer.concat([
          Buffer.from('{"type":"order.created","data":{"n":1,"s":"'),
          Buffer.from([0xc3, 0x28]),
          Buffer.from('"}}'),
        ]),
      ),
    ],
    [
      "overlong UTF-8",
      400,
      "PAL_GATEWAY_BAD_ENCODING",
      events(shop, Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])),
    ],
    [
      "UTF-16 surrogate bytes",
      400,
      "PAL_GATEWAY_BAD_ENCODING",
      events(
        shop,
        Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      ),
    ],
    ["truncated JSON", 400, "PAL_GATEWAY_BAD_JSON", events(shop, '{"type":"order.created","data":')],
    ["trailing garbage", 400, "PAL_GATEWAY_BAD_JSON", events(shop, `${order()} x`)],
    ["single quotes", 400, "PAL_GATEWAY_BAD_JSON", events(shop, "{'type':'order.created'}")],
    ["NaN literal", 400, "PAL_GATEWAY_BAD_JSON", events(shop, '{"type":"order.created","data":{"n":NaN}}')],
    ["comment", 400, "PAL_GATEWAY_BAD_JSON", events(shop, `/* hi */${order()}`)],
    ["empty body", 400, "PAL_GATEWAY_BAD_JSON", events(shop, "")],
    ["null body", 400, "PAL_EVENT_INVALID", events(shop, "null")],
    ["array body (not batch)", 400, "PAL_EVENT_INVALID", events(shop, `[${order()}]`)],
    ["number body", 400, "PAL_EVENT_INVALID", events(shop, "42")],
    [
      "huge string over the route limit",
      413,
      "PAL_GATEWAY_TOO_LARGE",
      events(shop, JSON.stringify({ type: "order.created", data: { n: 1, s: "x".repeat(70_000) } })),
    ],
    // CloudEvents attributes (400)
    ["missing id", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ id: undefined }))],
    ["missing source", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ source: undefined }))],
    ["missing type", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ type: undefined }))],
    ["empty id", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ id: "" }))],
    ["specversion 0.3", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ specversion: "0.3" }))],
    ["specversion as a number", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ specversion: 1.0 }))],
    ["type as a number", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ type: 7 }))],
    ["bad time", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ time: "yesterday" }))],
    ["bad dataschema", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ dataschema: "not a uri" }))],
    ["extension with an upper-case name", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ Priority: "high" }))],
    ["extension holding an object", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ meta: { a: 1 } }))],
    ["extension holding a float", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ weight: 1.5 }))],
    ["data with data_base64", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ data_base64: "AAEC" }))],
    [
      "binary datacontenttype in structured mode",
      400,
      "PAL_EVENT_INVALID",
      events(shopCe, ce({ datacontenttype: "application/octet-stream", data: "AAEC" })),
    ],
    ["spoofed principal", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ principal: "admin" }))],
    ["spoofed hop", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ hop: -1 }))],
    ["spoofed causationid", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ causationid: "x" }))],
    ["spoofed rootid", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ rootid: "x" }))],
    ["spoofed rootprincipal", 400, "PAL_EVENT_INVALID", events(shopCe, ce({ rootprincipal: "admin" }))],
    [
      "batch that is not an array",
      400,
      "PAL_EVENT_INVALID",
      events({ "content-type": "application/cloudevents-batch+json", ...bearer(KEYS.shop) }, ce({})),
    ],
    [
      "batch of 1001 events",
      400,
      "PAL_EVENT_INVALID",
      events(
        { "content-type": "application/cloudevents-batch+json", ...bearer(KEYS.shop) },
        `[${Array(1001).fill("{}").join(",")}]`,
      ),
    ],
    // Binary mode
    [
      "binary mode without ce-id",
      400,
      "PAL_EVENT_INVALID",
      events({ ...shop, "ce-specversion": "1.0", "ce-type": "order.created", "ce-source": "/b" }, '{"n":1}'),
    ],
    [
      "binary mode with a broken escape",
      400,
      "PAL_EVENT_INVALID",
      events(
        { ...shop, "ce-specversion": "1.0", "ce-id": "%zz", "ce-type": "order.created", "ce-source": "/b" },
        '{"n":1}',
      ),
    ],
    [
      "binary mode with raw UTF-8 bytes in a header",
      400,
      "PAL_EVENT_INVALID",
      events(
        {
          ...shop,
          "ce-specversion": "1.0",
          "ce-id": "\u00e9",
          "ce-type": "order.created",
          "ce-source": "/b",
        },
        '{"n":1}',
      ),
    ],
    [
      "binary mode with octet-stream data",
      415,
      "PAL_EVENT_UNSUPPORTED_MEDIA",
      events(
        {
          ...bearer(KEYS.shop),
          "content-type": "application/octet-stream",
          "ce-specversion": "1.0",
          "ce-id": "1",
          "ce-type": "order.created",
          "ce-source": "/b",
        },
        Buffer.from([0, 1]),
      ),
    ],
    // Media types (415)
    [
      "text/plain",
      415,
      "PAL_GATEWAY_UNSUPPORTED_MEDIA",
      events({ ...bearer(KEYS.shop), "content-type": "text/plain" }, order()),
    ],
    [
      "form",
      415,
      "PAL_GATEWAY_UNSUPPORTED_MEDIA",
      events(
        { ...bearer(KEYS.shop), "content-type": "application/x-www-form-urlencoded" },
        "type=order.created",
      ),
    ],
    [
      "xml",
      415,
      "PAL_GATEWAY_UNSUPPORTED_MEDIA",
      events({ ...bearer(KEYS.shop), "content-type": "application/xml" }, "<e/>"),
    ],
    // Schema (400)
    ["data of the wrong type", 400, "PAL_SCHEMA_INVALID_DATA", events(shop, order("one"))],
    [
      "data missing a required field",
      400,
      "PAL_SCHEMA_INVALID_DATA",
      events(shop, JSON.stringify({ type: "order.created", data: {} })),
    ],
    [
      "data with an extra field",
      400,
      "PAL_SCHEMA_INVALID_DATA",
      events(shop, JSON.stringify({ type: "order.created", data: { n: 1, admin: true } })),
    ],
    ["negative number", 400, "PAL_SCHEMA_INVALID_DATA", events(shop, order(-5))],
    [
      "undeclared type",
      400,
      "PAL_SCHEMA_UNKNOWN_TYPE",
      events(shop, JSON.stringify({ type: "order.deleted", data: { n: 1 } })),
    ],
    // Webhooks
    ["webhook without headers", 401, "PAL_GATEWAY_UNAUTHENTICATED", hook(JSON_CT)],
    [
      "webhook with a wrong signature",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      hook({ ...signWebhook("msg_1", now, hookBody), "webhook-signature": `v1,${btoa("x".repeat(32))}` }),
    ],
    [
      "webhook signed over another body",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      hook(signWebhook("msg_2", now, '{"amount":1}')),
    ],
    [
      "webhook signed with another secret",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      hook(signWebhook("msg_3", now, hookBody, `whsec_${btoa("another-secret-entirely-123456")}`)),
    ],
    ["webhook too old", 401, "PAL_GATEWAY_UNAUTHENTICATED", hook(signWebhook("msg_4", now - 3600, hookBody))],
    [
      "webhook from the future",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      hook(signWebhook("msg_5", now + 3600, hookBody)),
    ],
    [
      "webhook with another signature version",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      hook({
        ...signWebhook("msg_6", now, hookBody),
        "webhook-signature":
          signWebhook("msg_6", now, hookBody)["webhook-signature"]?.replace("v1,", "v2,") ?? "",
      }),
    ],
    [
      "webhook with a non-numeric timestamp",
      401,
      "PAL_GATEWAY_UNAUTHENTICATED",
      hook({ ...signWebhook("msg_7", now, hookBody), "webhook-timestamp": "soon" }),
    ],
  ];
  assert.ok(cases.length >= 60, `${cases.length} cases`);

  for (const [name, status, code, run] of cases) {
    const res = await run();
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body?.error?.code, code, name);
    assert.doesNotMatch(JSON.stringify(res.body), /\bat .+:\d+:\d+/, `${name}: no stack trace`);
  }

  // Rate limit: burst 2, then 429 with Retry-After.
  const slow = { ...JSON_CT, ...bearer(KEYS.slow) };
  assert.equal((await send(app.events, slow, order())).status, 202);
  assert.equal((await send(app.events, slow, order())).status, 202);
  const limited = await send(app.events, slow, order());
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, "PAL_GATEWAY_RATE_LIMITED");
  assert.ok(Number(limited.headers["retry-after"]) >= 1);

  // A webhook retried with the same id and body is acknowledged, not stored again (Standard
  // Webhooks: the sender stops retrying); the same id on other content, validly signed, is refused.
  const signed = signWebhook("msg_ok", now, hookBody);
  assert.equal((await send(app.hook, signed, hookBody)).status, 202);
  const retry = await send(app.hook, signed, hookBody);
  assert.equal(retry.status, 202);
  assert.deepEqual(retry.body, { ids: ["msg_ok"], duplicate: true });
  const otherBody = JSON.stringify({ amount: 500 });
  const replay = await send(app.hook, signWebhook("msg_ok", now, otherBody), otherBody);
  assert.equal(replay.status, 409);
  assert.equal(replay.body.error.code, "PAL_GATEWAY_WEBHOOK_REPLAY");
  assert.match(replay.body.error.message, /already received with other content/);

  // Only the three accepted events reached the function; nothing hostile did.
  await app.logs.waitFor(() => app.logs.lines.filter((l) => l.msg === "reached").length === 3);
  const reached = app.logs.lines.filter((l) => l.msg === "reached");
  assert.deepEqual(reached.map((l) => l.principal).sort(), ["slow", "slow", "webhook:/hooks/pay"]);
  // (Besides them, the log holds the platform's own alert about this test's failed credentials.)
  const stored = await app.platform.store.events.read(0, 100);
  assert.equal(stored.filter((e) => !e.event.type.startsWith("palisade.")).length, 3);
  assert.deepEqual(
    stored.filter((e) => e.event.type.startsWith("palisade.")).map((e) => e.event.type),
    ["palisade.security.anomaly"],
  );

  // Every refusal is a metric by reason and a log line with principal, address and reason.
  const metrics = await scrape(app.platform);
  assert.match(
    metrics,
    /palisade_ingress_rejected_total\{reason="unauthenticated",code="PAL_GATEWAY_UNAUTHENTICATED",status="401"\} 2[0-9]/,
  );
  assert.match(
    metrics,
    /palisade_ingress_rejected_total\{reason="forbidden",code="PAL_SECURITY_FORBIDDEN",status="403"\} 4/,
  );
  assert.match(
    metrics,
    /palisade_ingress_rejected_total\{reason="rate_limited",code="PAL_GATEWAY_RATE_LIMITED",status="429"\} 1/,
  );
  const refusals = app.logs.lines.filter((l) => String(l.msg).startsWith("ingress refused"));
  assert.equal(refusals.length, cases.length + 2);
  assert.ok(refusals.every((l) => typeof l.reason === "string" && l.ip === "127.0.0.1"));
  assert.ok(refusals.some((l) => l.principal === "reader" && l.reason === "PAL_SECURITY_FORBIDDEN"));
  const everything = JSON.stringify(app.logs.lines);
  for (const secret of [KEYS.shop, KEYS.reader, KEYS.slow, validJwt, WEBHOOK_SECRET, "x".repeat(1000)]) {
    assert.ok(!everything.includes(secret), "no credential or body in the logs");
  }
  assert.equal((await fetch(`${app.platform.url}/healthz`)).status, 200);
});
