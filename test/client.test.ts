import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type TestContext, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import {
  CLIENT_BAD_OPTIONS,
  CLIENT_BAD_RESPONSE,
  CLIENT_BATCH_TOO_LARGE,
  CLIENT_INSECURE_URL,
  CLIENT_UNREACHABLE,
  createClient,
  MAX_BATCH,
  MAX_RETRY_AFTER_MS,
  PalisadeClientError,
} from "palisade/client"; // the built SDK (dist/client.js, made by `prepare`), as an app loads it
import { MAX_BATCH as GATEWAY_MAX_BATCH } from "../src/events/index.ts";
import { type Platform, startPlatform } from "../src/main.ts";
import { type VerifiableEvent, verifyEvent } from "../src/verifiable/index.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const ISSUER = "https://id.client.test";
const AUDIENCE = "orders";
const ORDER_SCHEMA = {
  type: "object",
  required: ["orderId", "amount"],
  additionalProperties: false,
  properties: { orderId: { type: "string" }, amount: { type: "number", minimum: 0 } },
};

/** A real app on a loopback port: `tester` (API key) and `partner` (JWT) may publish order.placed. */
async function startApp(t: TestContext) {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "p1", alg: "ES256", use: "sig" };
  const dir = tempApp(t, {
    "palisade.yaml": `name: client
events:
  order.placed: { schema: schemas/order.json }
principals:
  tester: { apiKey: { secret: TEST_KEY }, publish: [order.placed] }
  partner: { jwt: { issuer: ${ISSUER}, audience: ${AUDIENCE}, jwks: keys/partner.jwks.json }, publish: [order.placed] }
functions: {}
`,
    "schemas/order.json": ORDER_SCHEMA,
    "keys/partner.jwks.json": { keys: [jwk] },
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform: Platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const jwt = () =>
    new SignJWT({ sub: "partner-1" })
      .setProtectedHeader({ alg: "ES256", kid: "p1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
  const stored = async () => (await platform.store.events.read(0, 100)).map((s) => s.event);
  return { platform, url: platform.url, jwt, stored };
}

/** What the loopback receiver does with one request: pass it on, answer itself, or drop the connection. */
type Step =
  | "pass"
  | "store-then-503" // passes it on (the gateway stores it), then answers 503 as if the answer was lost
  | "reset"
  | { status: number; headers?: Record<string, string>; body?: unknown };

interface Seen {
  body: string;
  contentType: string | undefined;
  authorization: string | undefined;
}

/**
 * A loopback HTTP receiver standing between the client and `target` (or alone, without one): each
 * request takes the next scripted step ("pass" once the script is used up) and is recorded.
 */
async function startReceiver(t: TestContext, steps: Step[], target?: string) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => void handle(req, res));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    seen.push({ body, contentType: req.headers["content-type"], authorization: req.headers.authorization });
    const step = steps.shift() ?? "pass";
    if (step === "reset") {
      req.socket.destroy();
      return;
    }
    if (typeof step === "object") {
      res.writeHead(step.status, { "content-type": "application/json", ...step.headers });
      res.end(step.body === undefined ? "" : JSON.stringify(step.body));
      return;
    }
    if (target === undefined) {
      res.writeHead(500).end("the receiver's script is used up and it has no target");
      return;
    }
    const headers: Record<string, string> = { "content-type": req.headers["content-type"] ?? "" };
    if (req.headers.authorization !== undefined) headers.authorization = req.headers.authorization;
    const answer = await fetch(new URL(req.url ?? "/", target), { method: "POST", headers, body });
    const text = await answer.text();
    if (step === "store-then-503") {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "0" });
      res.end(JSON.stringify({ error: { code: "PAL_TEST_UNAVAILABLE", message: "Lost on the way back" } }));
      return;
    }
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "" });
    res.end(text);
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.closeIdleConnections();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function rejection(promise: Promise<unknown>): Promise<PalisadeClientError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PalisadeClientError, `expected a PalisadeClientError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the send to be rejected");
}

test("send stores one structured event with a filled id, source and time, and resolves to the 202 body", async (t) => {
  const { url, stored } = await startApp(t);
  const client = createClient({ url, apiKey: TEST_KEY, source: "https://shop.example/checkout" });
  const result = await client.send({
    type: "order.placed",
    data: { orderId: "o-1", amount: 12.5 },
    subject: "o-1",
    extensions: { tenant: "acme" },
  });
  assert.equal(result.ids.length, 1);
  const id = result.ids[0] ?? "";
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const [event, ...more] = await stored();
  assert.equal(more.length, 0);
  assert.deepEqual(
    {
      id: event?.id,
      type: event?.type,
      source: event?.source,
      subject: event?.subject,
      data: event?.data,
      principal: event?.principal,
      extensions: event?.extensions,
    },
    {
      id,
      type: "order.placed",
      source: "https://shop.example/checkout",
      subject: "o-1",
      data: { orderId: "o-1", amount: 12.5 },
      principal: "tester",
      extensions: { tenant: "acme" },
    },
  );
  assert.ok(Math.abs(Date.parse(event?.time ?? "") - Date.now()) < 60_000, "time is filled at send");
});

test("sendBatch stores every event of one batch request in order, and refuses more than MAX_BATCH before sending", async (t) => {
  const { url, stored } = await startApp(t);
  const receiver = await startReceiver(t, [], url);
  const client = createClient({ url: receiver.url, apiKey: TEST_KEY });
  const result = await client.sendBatch([
    { type: "order.placed", data: { orderId: "b-1", amount: 1 } },
    { type: "order.placed", data: { orderId: "b-2", amount: 2 }, id: "chosen-id" },
  ]);
  assert.equal(result.ids.length, 2);
  assert.equal(result.ids[1], "chosen-id");
  assert.equal(receiver.seen.length, 1, "one request");
  assert.match(receiver.seen[0]?.contentType ?? "", /^application\/cloudevents-batch\+json/);
  assert.deepEqual(
    (await stored()).map((e) => [e.id, (e.data as { orderId: string }).orderId]),
    [
      [result.ids[0], "b-1"],
      ["chosen-id", "b-2"],
    ],
  );

  assert.equal(MAX_BATCH, GATEWAY_MAX_BATCH, "the client's limit is the gateway's");
  const tooMany = Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({
    type: "order.placed" as const,
    data: { orderId: `x-${i}`, amount: i },
  }));
  const err = await rejection(client.sendBatch(tooMany));
  assert.equal(err.code, CLIENT_BATCH_TOO_LARGE);
  assert.match(err.message, /1001 events.*at most 1000/);
  assert.equal(receiver.seen.length, 1, "nothing was sent");
  assert.deepEqual(await client.sendBatch([]), { ids: [] });
  assert.equal(receiver.seen.length, 1, "an empty batch sends nothing");
});

test("a 503 after the gateway stored the event is retried with the same id, and the event is stored once", async (t) => {
  const { url, stored } = await startApp(t);
  const receiver = await startReceiver(t, ["store-then-503", "reset"], url);
  const client = createClient({ url: receiver.url, apiKey: TEST_KEY });
  const result = await client.send({ type: "order.placed", data: { orderId: "r-1", amount: 3 } });
  assert.equal(receiver.seen.length, 3, "503, then a dropped connection, then the answer");
  const bodies = new Set(receiver.seen.map((s) => s.body));
  assert.equal(bodies.size, 1, "every attempt sent the same bytes");
  const sent = JSON.parse(receiver.seen[0]?.body ?? "{}");
  assert.deepEqual(result.ids, [sent.id]);
  const events = await stored();
  assert.deepEqual(
    events.map((e) => e.id),
    [sent.id],
    "stored once: the retry was a duplicate",
  );
});

test("429 waits out Retry-After; a Retry-After beyond the client's limit ends the send at once", async (t) => {
  const { url } = await startApp(t);
  const receiver = await startReceiver(
    t,
    [
      {
        status: 429,
        headers: { "retry-after": "1" },
        body: { error: { code: "PAL_GATEWAY_RATE_LIMITED", message: "Slow down" } },
      },
      "pass",
      {
        status: 429,
        headers: { "retry-after": "120" },
        body: { error: { code: "PAL_GATEWAY_CLIENT_BLOCKED", message: "Blocked" } },
      },
    ],
    url,
  );
  const client = createClient({ url: receiver.url, apiKey: TEST_KEY });
  const started = Date.now();
  await client.send({ type: "order.placed", data: { orderId: "w-1", amount: 1 } });
  assert.ok(Date.now() - started >= 950, "waited about a second before the retry");
  assert.equal(receiver.seen.length, 2);

  const err = await rejection(client.send({ type: "order.placed", data: { orderId: "w-2", amount: 1 } }));
  assert.ok(MAX_RETRY_AFTER_MS < 120_000);
  assert.deepEqual(
    {
      code: err.code,
      status: err.status,
      retryable: err.retryable,
      wait: err.retryAfterMs,
      attempts: err.attempts,
    },
    { code: "PAL_GATEWAY_CLIENT_BLOCKED", status: 429, retryable: true, wait: 120_000, attempts: 1 },
  );
  assert.equal(receiver.seen.length, 3, "not retried");
});

test("a 400 is not retried and rejects with the gateway's status, code, message and details", async (t) => {
  const { url, stored } = await startApp(t);
  const receiver = await startReceiver(t, [], url);
  const client = createClient({ url: receiver.url, apiKey: TEST_KEY });
  const err = await rejection(
    // The project has no generated types for this app: the gateway checks the schema.
    client.send({ type: "order.placed", data: { orderId: "bad", amount: "ten" } }),
  );
  assert.equal(receiver.seen.length, 1, "not retried");
  assert.equal(err.status, 400);
  assert.equal(err.code, "PAL_SCHEMA_INVALID_DATA");
  assert.equal(err.retryable, false);
  assert.equal(err.attempts, 1);
  assert.deepEqual(err.ids, [JSON.parse(receiver.seen[0]?.body ?? "{}").id]);
  // The message and details are the gateway's own: the same body a direct request gets.
  const direct = await fetch(`${url}/events`, {
    method: "POST",
    headers: { "content-type": "application/cloudevents+json", authorization: `Bearer ${TEST_KEY}` },
    body: receiver.seen[0]?.body ?? "",
  });
  assert.equal(direct.status, 400);
  const { error } = (await direct.json()) as { error: { message: string; details: unknown } };
  assert.equal(err.message, error.message);
  assert.deepEqual(err.details, error.details);
  assert.ok(JSON.stringify(err.details).includes("/data/amount"));
  assert.equal((await stored()).length, 0);

  const wrongKey = createClient({ url: receiver.url, apiKey: "not-the-key-0123456789" });
  const denied = await rejection(wrongKey.send({ type: "order.placed", data: { orderId: "k", amount: 1 } }));
  assert.deepEqual(
    { status: denied.status, code: denied.code, attempts: denied.attempts },
    { status: 401, code: "PAL_GATEWAY_UNAUTHENTICATED", attempts: 1 },
  );
  assert.equal(receiver.seen.length, 2, "a 401 is not retried either");
});

test("retries end after `retries`: the last error is kept, retryable, with the ids to send again", async (t) => {
  const unavailable = {
    status: 503,
    body: { error: { code: "PAL_BUS_UNAVAILABLE", message: "Store away" } },
  };
  const receiver = await startReceiver(t, [unavailable, unavailable, unavailable]);
  const client = createClient({ url: receiver.url, apiKey: TEST_KEY, retries: 1 });
  const err = await rejection(client.send({ type: "order.placed", data: { orderId: "e", amount: 1 } }));
  assert.deepEqual(
    {
      code: err.code,
      message: err.message,
      status: err.status,
      retryable: err.retryable,
      attempts: err.attempts,
    },
    { code: "PAL_BUS_UNAVAILABLE", message: "Store away", status: 503, retryable: true, attempts: 2 },
  );
  assert.equal(receiver.seen.length, 2);
  assert.deepEqual(err.ids, [JSON.parse(receiver.seen[0]?.body ?? "{}").id]);

  const proxyPage = await startReceiver(t, [{ status: 502, body: "<html>Bad gateway</html>" }]);
  const noShape = await rejection(
    createClient({ url: proxyPage.url, retries: 0 }).send({ type: "t", data: 1 }),
  );
  assert.deepEqual([noShape.code, noShape.status], [CLIENT_BAD_RESPONSE, 502]);

  const closed = await startReceiver(t, ["reset", "reset"]);
  const gone = await rejection(createClient({ url: closed.url, retries: 1 }).send({ type: "t" }));
  assert.deepEqual([gone.code, gone.status, gone.attempts], [CLIENT_UNREACHABLE, 0, 2]);
});

test("a JWT from a token provider authenticates; the provider is asked again for each attempt", async (t) => {
  const { url, jwt, stored } = await startApp(t);
  const receiver = await startReceiver(
    t,
    [{ status: 503, headers: { "retry-after": "0" }, body: { error: { code: "PAL_X", message: "x" } } }],
    url,
  );
  let calls = 0;
  const client = createClient({
    url: receiver.url,
    token: () => {
      calls++;
      return jwt();
    },
  });
  await client.send({ type: "order.placed", data: { orderId: "j-1", amount: 1 } });
  assert.equal(calls, 2);
  assert.match(receiver.seen[1]?.authorization ?? "", /^Bearer ey/);
  assert.deepEqual(
    (await stored()).map((e) => e.principal),
    ["partner"],
  );
});

test("a redirect is not followed: the credential goes to the configured origin only", async (t) => {
  const elsewhere = await startReceiver(t, [{ status: 202, body: { ids: ["stolen"] } }]);
  const redirecting = await startReceiver(t, [
    { status: 307, headers: { location: `${elsewhere.url}/events` } },
  ]);
  const client = createClient({ url: redirecting.url, apiKey: TEST_KEY });
  const err = await rejection(client.send({ type: "t", data: 1 }));
  assert.deepEqual([err.code, err.status, err.retryable], [CLIENT_BAD_RESPONSE, 307, false]);
  assert.equal(elsewhere.seen.length, 0);
});

test("a credential is never sent over plain http off loopback; https and loopback are fine", () => {
  for (const url of [
    "http://palisade.example",
    "http://10.0.0.5:8787",
    "http://127.0.0.1.nip.io",
    "http://[::2]/",
  ]) {
    for (const credential of [{ apiKey: TEST_KEY }, { token: "a.b.c" }]) {
      assert.throws(
        () => createClient({ url, ...credential }),
        (err: PalisadeClientError) =>
          err.code === CLIENT_INSECURE_URL && err.message.includes("in the clear") && err.status === 0,
        url,
      );
    }
  }
  for (const url of [
    "https://palisade.example",
    "http://127.0.0.1:8787",
    "http://localhost:1",
    "http://[::1]:2",
    "http://127.1.2.3",
  ])
    assert.doesNotThrow(() => createClient({ url, apiKey: TEST_KEY }), url);
  assert.doesNotThrow(
    () => createClient({ url: "http://palisade.example" }),
    "no credential, nothing to leak",
  );
  assert.throws(() => createClient({ url: "ftp://x" }), { code: CLIENT_BAD_OPTIONS });
  assert.throws(() => createClient({ url: "https://u:p@x" }), { code: CLIENT_BAD_OPTIONS });
  assert.throws(() => createClient({ url: "https://x", apiKey: "k", token: "t" }), {
    code: CLIENT_BAD_OPTIONS,
  });
  assert.throws(() => createClient({ url: "https://x", retries: -1 }), { code: CLIENT_BAD_OPTIONS });
});

function keyPair(kind: "ed25519" | "p256"): { publicKey: KeyObject; privateKey: KeyObject } {
  return kind === "ed25519"
    ? generateKeyPairSync("ed25519")
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
}

/** The event a receiver got, as the verifier takes it: attributes as sent, data as its JSON text. */
function received(body: string): { event: VerifiableEvent; material: string } {
  const { data, dssematerial, ...attributes } = JSON.parse(body) as Record<string, any>;
  const text = data === undefined ? "" : JSON.stringify(data);
  assert.ok(data === undefined || body.endsWith(`"data":${text}}`), "data is sent as its JSON text");
  return { event: { attributes, data: Buffer.from(text) }, material: dssematerial };
}

test("with a signing key every event carries a dssematerial that verifies; a changed byte does not", async (t) => {
  const receiver = await startReceiver(t, [
    { status: 202, body: { ids: ["s"] } },
    { status: 202, body: { ids: ["a", "b"] } },
    { status: 202, body: { ids: ["n"] } },
  ]);
  for (const kind of ["ed25519", "p256"] as const) {
    const { publicKey, privateKey } = keyPair(kind);
    const keys = new Map([["producer-1", publicKey]]);
    const client = createClient({
      url: receiver.url,
      apiKey: TEST_KEY,
      signingKey: { keyid: "producer-1", privateKey },
    });
    const before = receiver.seen.length;
    if (kind === "ed25519") {
      await client.send({
        type: "order.placed",
        data: { orderId: "s-1", amount: 1, note: "ünïcode ✓" },
        subject: "s-1",
        time: "2026-05-13T11:49:12+02:00",
        extensions: { tenant: "acme", priority: 3 },
      });
    } else {
      await client.sendBatch([
        { type: "order.placed", data: { orderId: "s-2", amount: 2 } },
        { type: "order.placed", data: { orderId: "s-3", amount: 3 }, extensions: { tenant: "acme" } },
      ]);
    }
    const bodies = receiver.seen.slice(before).flatMap((s) => {
      const parsed = JSON.parse(s.body);
      return Array.isArray(parsed) ? parsed.map((e) => JSON.stringify(e)) : [s.body];
    });
    for (const body of bodies) {
      const { event, material } = received(body);
      const result = verifyEvent(event, material, keys);
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.keyid, "producer-1");
      const extensions = Object.keys(event.attributes).filter((n) => ["tenant", "priority"].includes(n));
      assert.deepEqual(result.signedextattrs, extensions, "every extension is signed by default");
      assert.equal(event.attributes.signedextattrs, undefined, "the list travels inside the material");

      const changedData = {
        ...event,
        data: Buffer.from(String(event.data).replace(/"amount":\d/, '"amount":9')),
      };
      assert.equal(verifyEvent(changedData, material, keys).ok, false);
      if (extensions.includes("tenant")) {
        const changedExt = { ...event, attributes: { ...event.attributes, tenant: "other" } };
        assert.equal(verifyEvent(changedExt, material, keys).ok, false);
      }
    }
  }

  // signedExtensions narrows what is signed; an unusable key is refused when the client is made.
  const { privateKey } = keyPair("ed25519");
  const narrow = createClient({
    url: receiver.url,
    signingKey: { keyid: "k", privateKey },
    signedExtensions: ["tenant"],
  });
  await narrow.send({ type: "t", data: null, extensions: { tenant: "acme", trace: "x" } });
  const last = received(receiver.seen.at(-1)?.body ?? "");
  const narrowed = verifyEvent(last.event, last.material, new Map([["k", createPublicKey(privateKey)]]));
  assert.ok(narrowed.ok, JSON.stringify(narrowed));
  assert.deepEqual(narrowed.signedextattrs, ["tenant"]);
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  assert.throws(() => createClient({ url: receiver.url, signingKey: { keyid: "r", privateKey: rsa } }), {
    code: CLIENT_BAD_OPTIONS,
  });
});

test("a signing principal's gateway accepts the client's signed events and refuses its unsigned ones", async (t) => {
  const { publicKey, privateKey } = keyPair("ed25519");
  const dir = tempApp(t, {
    "palisade.yaml": `name: signed
events:
  order.placed: { schema: schemas/order.json }
principals:
  signer:
    apiKey: { secret: SIGNER_KEY }
    publish: [order.placed]
    signing: { keys: [{ keyid: shop-2026, publicKey: keys/shop.pub.pem }], requireSigned: true }
functions: {}
`,
    "schemas/order.json": ORDER_SCHEMA,
    "keys/shop.pub.pem": publicKey.export({ type: "spki", format: "pem" }).toString(),
  });
  setSecret(dir, "SIGNER_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const signed = createClient({
    url: platform.url,
    apiKey: TEST_KEY,
    signingKey: { keyid: "shop-2026", privateKey },
    signedExtensions: ["tenant"],
  });
  const one = await signed.send({
    type: "order.placed",
    data: { orderId: "v-1", amount: 5 },
    time: "2026-05-13T11:49:12.5+02:00",
    extensions: { tenant: "acme", unsigned: "dropped" },
  });
  const batch = await signed.sendBatch([
    { type: "order.placed", data: { orderId: "v-2", amount: 1 } },
    { type: "order.placed", data: { orderId: "v-3", amount: 2 } },
  ]);
  const events = (await platform.store.events.read(0, 10)).map(
    (s) => s.event as unknown as Record<string, any>,
  );
  assert.deepEqual(
    events.map((e) => [e.id, e.verified]),
    [...one.ids, ...batch.ids].map((id) => [id, "shop-2026"]),
  );
  assert.equal(events[0]?.extensions?.tenant, "acme");
  assert.equal(events[0]?.extensions?.unsigned, undefined, "an unsigned extension is not kept");

  const unsigned = createClient({ url: platform.url, apiKey: TEST_KEY });
  const err = await rejection(unsigned.send({ type: "order.placed", data: { orderId: "u", amount: 1 } }));
  assert.deepEqual([err.status, err.code, err.attempts], [403, "PAL_GATEWAY_UNSIGNED", 1]);
});
