import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { makeCertificates } from "../../test/kit/certs.ts";
import { type CloudEvent, dataBytesOf, parseBinary, wireFormOf } from "../events/index.ts";
import { egressFetch } from "../runtime/index.ts";
import {
  DEFAULT_SINK_MAX_RESPONSE_BYTES,
  egressRulesFor,
  MAX_RETRY_AFTER_MS,
  type SinkTarget,
  sendToSink,
} from "./index.ts";
import { webhookId } from "./send-to-sink.ts";

// Every receiver listens on 127.0.0.1; names are answered by an injected lookup.

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

async function receiver(
  t: TestContext,
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.writeHead(204).end(),
  make: (
    l: RequestListener,
  ) => ReturnType<typeof createServer> | ReturnType<typeof createHttpsServer> = createServer,
) {
  const received: Received[] = [];
  const server = make((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      answer(req, res);
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as { port: number };
  return { port, received };
}

function sink(url: string, extra: Partial<SinkTarget> = {}): SinkTarget {
  return {
    name: "audit",
    url: new URL(url),
    mode: "structured",
    allowAddresses: ["127.0.0.1"],
    timeoutMs: 5000,
    maxResponseBytes: DEFAULT_SINK_MAX_RESPONSE_BYTES,
    ...extra,
  };
}

const TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const DELIVERY_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01";

function event(extra: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: "1.0",
    id: "evt-1",
    source: "https://shop.example/orders",
    type: "order.placed",
    time: "2026-03-01T12:00:00.000Z",
    datacontenttype: "application/json",
    dataschema: "https://shop.example/schemas/order.json",
    subject: "order 42",
    data: { orderId: 42, items: ["a", "b"], note: "é" },
    extensions: { tenant: "acme", priority: 3, urgent: true },
    traceparent: TRACE,
    principal: "shop",
    hop: 1,
    causationid: "evt-0",
    rootid: "evt-0",
    rootprincipal: "shop",
    schemaversion: 2,
    ...extra,
  };
}

/** A fake DNS that answers from `table` and records every name asked. */
function fakeDns(table: Record<string, string[]>) {
  const asked: string[] = [];
  const lookup = async (name: string) => {
    asked.push(name);
    const answers = table[name];
    if (answers === undefined) throw Object.assign(new Error(`no ${name}`), { code: "ENOTFOUND" });
    return answers.map((address) => ({ address, family: isIP(address) }));
  };
  return Object.assign(lookup, { asked });
}

test("a receiver's answer is read up to 64 KiB by default", () => {
  assert.equal(DEFAULT_SINK_MAX_RESPONSE_BYTES, 65_536);
});

test("structured mode posts the event in the CloudEvents JSON format: attributes, producer extensions, dssematerial and trace context, not Palisade's own", async (t) => {
  const { port, received } = await receiver(t);
  const outcome = await sendToSink(sink(`http://127.0.0.1:${port}/hooks/in?x=1`), event(), {
    dssematerial: "eyJwYXlsb2FkIjoiIn0",
    traceparent: DELIVERY_TRACE,
    tracestate: "palisade=1",
  });
  assert.deepEqual(outcome, { kind: "delivered", status: 204 });
  assert.equal(received.length, 1);
  const [req] = received as [Received];
  assert.equal(req.method, "POST");
  assert.equal(req.url, "/hooks/in?x=1");
  assert.equal(req.headers["content-type"], "application/cloudevents+json; charset=utf-8");
  assert.equal(req.headers["content-length"], String(req.body.length));
  assert.equal(req.headers.traceparent, DELIVERY_TRACE);
  assert.equal(req.headers.tracestate, "palisade=1");
  assert.equal(req.headers.authorization, undefined);
  assert.equal(req.headers["webhook-signature"], undefined);
  const wire = JSON.parse(req.body.toString("utf8"));
  assert.deepEqual(wire, {
    specversion: "1.0",
    id: "evt-1",
    source: "https://shop.example/orders",
    type: "order.placed",
    time: "2026-03-01T12:00:00.000Z",
    datacontenttype: "application/json",
    dataschema: "https://shop.example/schemas/order.json",
    subject: "order 42",
    tenant: "acme",
    priority: 3,
    urgent: true,
    palisadeprincipal: "shop",
    traceparent: DELIVERY_TRACE,
    dssematerial: "eyJwYXlsb2FkIjoiIn0",
    data: { orderId: 42, items: ["a", "b"], note: "é" },
  });
  // The data inside is exactly the bytes a signature over the wire form covers.
  assert.equal(JSON.stringify(wire.data), Buffer.from(dataBytesOf(event())).toString("utf8"));
});

test("structured mode carries text data as a string and leaves out data an event does not have", async (t) => {
  const { port, received } = await receiver(t);
  const target = sink(`http://127.0.0.1:${port}/`);
  const text = event({ datacontenttype: "text/plain; charset=utf-8", data: "line 1\nline 2 ✓" });
  assert.equal((await sendToSink(target, text)).kind, "delivered");
  const none = event({ data: null });
  assert.equal((await sendToSink(target, none)).kind, "delivered");
  const [first, second] = received.map((r) => JSON.parse(r.body.toString("utf8")));
  assert.equal(first.data, "line 1\nline 2 ✓");
  assert.equal(first.datacontenttype, "text/plain; charset=utf-8");
  assert.equal("data" in second, false);
  assert.equal("dssematerial" in second, false); // only the material the caller gives is sent
  // Without a delivery span, the trace header continues the event's.
  assert.equal(received[0]?.headers.traceparent, TRACE);
});

test("binary mode maps each attribute to a percent-encoded ce- header, datacontenttype to Content-Type and the data to the body", async (t) => {
  const { port, received } = await receiver(t);
  const tricky = event({
    subject: 'a "quoted" 100% naïve subject',
    extensions: { tenant: "x y", count: 7, ok: false },
  });
  const outcome = await sendToSink(sink(`http://127.0.0.1:${port}/`, { mode: "binary" }), tricky, {
    dssematerial: "bWF0ZXJpYWw=",
  });
  assert.deepEqual(outcome, { kind: "delivered", status: 204 });
  const [req] = received as [Received];
  const ce = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith("ce-")));
  assert.deepEqual(ce, {
    "ce-specversion": "1.0",
    "ce-id": "evt-1",
    "ce-source": "https://shop.example/orders",
    "ce-type": "order.placed",
    "ce-time": "2026-03-01T12:00:00.000Z",
    "ce-dataschema": "https://shop.example/schemas/order.json",
    "ce-subject": "a%20%22quoted%22%20100%25%20na%C3%AFve%20subject",
    "ce-tenant": "x%20y",
    "ce-count": "7",
    "ce-ok": "false",
    "ce-palisadeprincipal": "shop",
    "ce-dssematerial": "bWF0ZXJpYWw=",
  });
  assert.equal(req.headers["content-type"], "application/json");
  assert.equal(req.body.toString("utf8"), '{"orderId":42,"items":["a","b"],"note":"é"}');
  assert.deepEqual(new Uint8Array(req.body), new Uint8Array(dataBytesOf(tricky)));
  // Palisade's own binary-mode reader takes it back to the same event.
  const back = parseBinary(req.headers as Record<string, string>, JSON.parse(req.body.toString("utf8")));
  assert.equal(back.subject, 'a "quoted" 100% naïve subject');
  assert.deepEqual(back.data, tricky.data);
  assert.deepEqual(back.extensions, {
    tenant: "x y",
    count: "7",
    ok: "false",
    palisadeprincipal: "shop",
    dssematerial: "bWF0ZXJpYWw=",
  });
});

test("binary mode sends text data as UTF-8 with its media type", async (t) => {
  const { port, received } = await receiver(t);
  const xml = event({ datacontenttype: "application/xml", data: "<order id='42'>ü</order>" });
  assert.equal(
    (await sendToSink(sink(`http://127.0.0.1:${port}/`, { mode: "binary" }), xml)).kind,
    "delivered",
  );
  assert.equal(received[0]?.headers["content-type"], "application/xml");
  assert.equal(received[0]?.body.toString("utf8"), "<order id='42'>ü</order>");
  assert.equal(received[0]?.headers["ce-datacontenttype"], undefined);
});

test("the wire form is the CloudEvents attributes, the producer's extensions and who produced it; the signature covers all but trace context", () => {
  const wire = wireFormOf(event({ extensions: { tenant: "acme", tracestate: "a=b" }, verified: "shop-key" }));
  assert.deepEqual(wire.attributes, {
    specversion: "1.0",
    id: "evt-1",
    source: "https://shop.example/orders",
    type: "order.placed",
    time: "2026-03-01T12:00:00.000Z",
    datacontenttype: "application/json",
    dataschema: "https://shop.example/schemas/order.json",
    subject: "order 42",
    tenant: "acme",
    tracestate: "a=b",
    palisadeprincipal: "shop",
    palisadeverified: "shop-key",
  });
  assert.deepEqual(wire.signed, ["tenant", "palisadeprincipal", "palisadeverified"]);
});

for (const [label, secret] of [
  ["whsec_ prefixed", `whsec_${Buffer.from("a-32-byte-secret-for-the-sinks!!").toString("base64")}`],
  ["plain base64", Buffer.from("another secret, 24 bytes").toString("base64")],
] as const) {
  test(`a receiver granted by exact address verifies the Standard Webhooks signature (${label} secret) with the standardwebhooks package`, async (t) => {
    const { port, received } = await receiver(t);
    for (const mode of ["structured", "binary"] as const) {
      const target = sink(`http://127.0.0.1:${port}/`, { mode, auth: { kind: "webhook", secret } });
      assert.deepEqual(await sendToSink(target, event()), { kind: "delivered", status: 204 });
    }
    for (const req of received) {
      assert.equal(req.headers["webhook-id"], webhookId(event()));
      assert.ok(Math.abs(Number(req.headers["webhook-timestamp"]) - Date.now() / 1000) < 5);
      const headers = req.headers as Record<string, string>;
      new Webhook(secret).verify(req.body, headers); // throws when the signature does not match
      const other = `whsec_${Buffer.from("not the secret the sink was given").toString("base64")}`;
      assert.throws(() => new Webhook(other).verify(req.body, headers), /No matching signature/);
      const tampered = Buffer.concat([req.body, Buffer.from(" ")]);
      assert.throws(() => new Webhook(secret).verify(tampered, headers), /No matching signature/);
    }
  });
}

test("the webhook timestamp comes from the clock and the signature covers id.timestamp.body", async (t) => {
  const { port, received } = await receiver(t);
  const key = Buffer.from("0123456789abcdef0123456789abcdef");
  const target = sink(`http://127.0.0.1:${port}/`, {
    auth: { kind: "webhook", secret: `whsec_${key.toString("base64")}` },
  });
  await sendToSink(target, event({ id: "id with space" }), { now: () => 1_700_000_000_999 });
  const [req] = received as [Received];
  const id = webhookId(event({ id: "id with space" }));
  assert.match(id, /^msg_[0-9a-f]{32}$/);
  assert.equal(req.headers["webhook-id"], id);
  assert.equal(req.headers["webhook-timestamp"], "1700000000");
  const mac = createHmac("sha256", key).update(`${id}.1700000000.`).update(req.body).digest("base64");
  assert.equal(req.headers["webhook-signature"], `v1,${mac}`);
});

test("a bearer sink sends Authorization: Bearer; a secret that cannot be a header fails without sending or echoing it", async (t) => {
  const { port, received } = await receiver(t);
  const ok = sink(`http://127.0.0.1:${port}/`, { auth: { kind: "bearer", secret: "s3cr3t-token" } });
  assert.equal((await sendToSink(ok, event())).kind, "delivered");
  assert.equal(received[0]?.headers.authorization, "Bearer s3cr3t-token");

  const broken = sink(`http://127.0.0.1:${port}/`, {
    auth: { kind: "bearer", secret: "SECRETVALUE\r\nx-evil: 1" },
  });
  const outcome = await sendToSink(broken, event());
  assert.equal(outcome.kind, "failed");
  assert.match(outcome.kind === "failed" ? outcome.message : "", /Sink "audit" has a bearer secret/);
  assert.doesNotMatch(JSON.stringify(outcome), /SECRETVALUE|evil/);
  const badWebhook = sink(`http://127.0.0.1:${port}/`, {
    auth: { kind: "webhook", secret: "whsec_not base64!" },
  });
  const refused = await sendToSink(badWebhook, event());
  assert.equal(refused.kind, "failed");
  assert.match(
    refused.kind === "failed" ? refused.message : "",
    /webhook secret that is not "whsec_<base64>"/,
  );
  assert.equal(received.length, 1);
});

test("429 and 503 are retried after their Retry-After (delta-seconds or HTTP-date, capped at an hour)", async (t) => {
  const answers: [number, Record<string, string>][] = [
    [429, { "retry-after": "1" }],
    [503, { "retry-after": "Wed, 21 Oct 2015 07:28:30 GMT" }],
    [429, { "retry-after": "999999" }],
    [503, { "retry-after": "Wed, 21 Oct 2015 07:27:00 GMT" }],
    [503, { "retry-after": "soon" }],
    [429, {}],
  ];
  let n = 0;
  const { port } = await receiver(t, (_q, res) => {
    const [status, headers] = answers[n++] as [number, Record<string, string>];
    res.writeHead(status, headers).end("slow down");
  });
  const target = sink(`http://127.0.0.1:${port}/`);
  const now = () => Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  const got = [];
  for (let i = 0; i < answers.length; i++) {
    const o = await sendToSink(target, event(), { now });
    assert.equal(o.kind, "retry");
    got.push(o.kind === "retry" ? [o.status, o.retryAfterMs] : []);
  }
  assert.deepEqual(got, [
    [429, 1000],
    [503, 30_000],
    [429, MAX_RETRY_AFTER_MS],
    [503, 0],
    [503, undefined],
    [429, undefined],
  ]);
});

test("408, 425, 500, 502 and 504 are retried; other statuses fail with the receiver's answer", async (t) => {
  const { port } = await receiver(t, (req, res) => {
    const status = Number(req.url?.slice(1));
    res.writeHead(status, { "retry-after": "5" }).end(status === 400 ? '{"error":"bad field \\"x\\""}' : "");
  });
  const outcomes: Record<number, string> = {};
  for (const status of [200, 201, 202, 408, 425, 500, 502, 504, 400, 401, 403, 404, 410, 413, 501]) {
    const o = await sendToSink(sink(`http://127.0.0.1:${port}/${status}`), event());
    assert.equal(o.status, status);
    assert.equal("retryAfterMs" in o, false, `${status} honours no Retry-After`);
    outcomes[status] = o.kind;
  }
  assert.deepEqual(outcomes, {
    200: "delivered",
    201: "delivered",
    202: "delivered",
    408: "retry",
    425: "retry",
    500: "retry",
    502: "retry",
    504: "retry",
    400: "failed",
    401: "failed",
    403: "failed",
    404: "failed",
    410: "failed",
    413: "failed",
    501: "failed",
  });
  const bad = await sendToSink(sink(`http://127.0.0.1:${port}/400`), event());
  assert.equal(
    bad.kind === "failed" ? bad.message : "",
    `Cannot deliver event "evt-1" to sink "audit": http://127.0.0.1:${port} answered 400 "Bad Request": "{\\"error\\":\\"bad field \\\\\\"x\\\\\\"\\"}"`,
  );
});

test("a redirect is not followed: the outcome fails naming the Location, and the target receives nothing", async (t) => {
  const elsewhere = await receiver(t);
  const { port, received } = await receiver(t, (_q, res) =>
    res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end(),
  );
  const target = sink(`http://127.0.0.1:${port}/`, { auth: { kind: "bearer", secret: "tok" } });
  const outcome = await sendToSink(target, event());
  assert.equal(outcome.kind, "failed");
  assert.equal(outcome.status, 302);
  assert.match(
    outcome.kind === "failed" ? outcome.message : "",
    new RegExp(
      `answered 302 "Found" redirecting to "http://127\\.0\\.0\\.1:${elsewhere.port}/stolen"; redirects are not followed`,
    ),
  );
  assert.equal(received.length, 1);
  assert.equal(elsewhere.received.length, 0);
});

test("a response over the cap is read no further: the status decides and the connection is closed", async (t) => {
  let written = 0;
  let closed = false;
  const { port } = await receiver(t, (_q, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const chunk = Buffer.alloc(16 * 1024, 1);
    res.on("close", () => {
      closed = true;
    });
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) written += chunk.length;
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  const started = Date.now();
  const outcome = await sendToSink(
    sink(`http://127.0.0.1:${port}/`, { maxResponseBytes: 1024, timeoutMs: 20_000 }),
    event(),
  );
  assert.deepEqual(outcome, { kind: "delivered", status: 200 });
  // An endless body: only stopping at the cap (not the deadline) ends this early.
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  await new Promise((ok) => setTimeout(ok, 100));
  assert.equal(closed, true);
  assert.ok(written < 64 * 1024 * 1024, `the receiver wrote ${written} bytes`);
});

test("egressFetch with truncateBody returns at most maxResponseBytes of a larger body", async (t) => {
  const { port } = await receiver(t, (_q, res) => res.writeHead(200).end(Buffer.alloc(100_000, 7)));
  const rules = egressRulesFor(sink(`http://127.0.0.1:${port}/`));
  const opts = { fn: "audit", caller: "sink" as const, rules, maxResponseBytes: 1000 };
  const cut = await egressFetch(`http://127.0.0.1:${port}/`, undefined, { ...opts, truncateBody: true });
  assert.equal(cut.body.length, 1000);
  await assert.rejects(egressFetch(`http://127.0.0.1:${port}/`, undefined, opts), {
    message: new RegExp(
      `^Cannot deliver to http://127\\.0\\.0\\.1:${port}/: the response body is over the limit of 1000 bytes`,
    ),
  });
});

test("a receiver that never answers is retried after timeoutMs", async (t) => {
  const { port, received } = await receiver(t, () => {});
  const started = Date.now();
  const outcome = await sendToSink(sink(`http://127.0.0.1:${port}/`, { timeoutMs: 300 }), event());
  assert.deepEqual(outcome, {
    kind: "retry",
    message: `Cannot deliver to http://127.0.0.1:${port}/: no complete response within 300 ms`,
  });
  assert.ok(Date.now() - started >= 290);
  assert.equal(received.length, 1);
});

test("an answer whose body stalls is judged by its status once the time is up", async (t) => {
  const { port } = await receiver(t, (req, res) =>
    res.writeHead(Number(req.url?.slice(1)), { "content-length": "100" }).write("partial"),
  );
  const ok = await sendToSink(sink(`http://127.0.0.1:${port}/200`, { timeoutMs: 200 }), event());
  assert.deepEqual(ok, { kind: "delivered", status: 200 });
  const busy = await sendToSink(sink(`http://127.0.0.1:${port}/500`, { timeoutMs: 200 }), event());
  assert.equal(busy.kind, "retry");
  assert.equal(busy.status, 500);
  assert.match(busy.kind === "retry" ? busy.message : "", /answered 500 "Internal Server Error": "partial"$/);
});

test("a receiver that is down is retried", async () => {
  // Take a free port, then close it: nothing listens there.
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  const outcome = await sendToSink(sink(`http://127.0.0.1:${port}/`), event());
  assert.equal(outcome.kind, "retry");
  assert.match(outcome.kind === "retry" ? outcome.message : "", /ECONNREFUSED/);
});

test("a sink whose name resolves to 127.0.0.1 is refused without an allowAddresses grant, and the receiver gets nothing", async (t) => {
  const { port, received } = await receiver(t);
  const dns = fakeDns({ "hooks.example": ["127.0.0.1"] });
  const target = sink(`https://hooks.example:${port}/in`, { allowAddresses: [] });
  const outcome = await sendToSink(target, event(), { lookup: dns });
  assert.deepEqual(outcome, {
    kind: "failed",
    message: `Sink "audit" may not deliver to https://hooks.example:${port}: "hooks.example" resolves to 127.0.0.1, a loopback address; only public addresses are reachable: add the address to sinks.audit.allowAddresses in palisade.yaml`,
  });
  assert.deepEqual(dns.asked, ["hooks.example"]);
  // Another listed address does not cover it either; nor does a name that resolves partly inward.
  const other = await sendToSink({ ...target, allowAddresses: ["10.0.0.5"] }, event(), { lookup: dns });
  assert.match(other.kind === "failed" ? other.message : "", /resolves to 127\.0\.0\.1, a loopback address/);
  const mixed = fakeDns({ "hooks.example": ["93.184.216.34", "169.254.169.254"] });
  const meta = await sendToSink(target, event(), { lookup: mixed });
  assert.match(
    meta.kind === "failed" ? meta.message : "",
    /resolves to 169\.254\.169\.254, a link-local address/,
  );
  assert.equal(received.length, 0);
});

test("plain http goes only to a listed address written in the url: not to a public name, nor an unlisted address", async (t) => {
  const { port, received } = await receiver(t);
  const dns = fakeDns({ "hooks.example.com": ["93.184.216.34"], "local.test": ["127.0.0.1"] });
  for (const url of [`http://hooks.example.com/in`, `http://local.test:${port}/`]) {
    const outcome = await sendToSink(sink(url), event(), { lookup: dns });
    assert.equal(outcome.kind, "failed");
    assert.match(
      outcome.kind === "failed" ? outcome.message : "",
      /^Sink "audit" may not deliver to http:\/\/[\w.]+:\d+; plain http is used only for an IP address listed in sinks\.audit\.allowAddresses/,
    );
  }
  const unlisted = await sendToSink(sink(`http://127.0.0.1:${port}/`, { allowAddresses: [] }), event());
  assert.match(
    unlisted.kind === "failed" ? unlisted.message : "",
    /may not deliver to http:\/\/127\.0\.0\.1/,
  );
  assert.deepEqual(dns.asked, []); // refused before any lookup
  assert.equal(received.length, 0);
});

test("https to a listed address verifies the receiver's certificate", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-sink-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCertificates(dir);
  const tls = { key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.crt")) };
  const { port, received } = await receiver(t, undefined, (l) => createHttpsServer(tls, l));
  const target = sink(`https://127.0.0.1:${port}/`);
  assert.deepEqual(await sendToSink(target, event(), { ca: certs.ca }), { kind: "delivered", status: 204 });
  const untrusted = await sendToSink(target, event());
  assert.equal(untrusted.kind, "retry");
  assert.match(untrusted.kind === "retry" ? untrusted.message : "", /certificate/);
  assert.equal(received.length, 1);
});

test("egressRulesFor grants the url's host and port and each listed address exactly", () => {
  assert.deepEqual(egressRulesFor(sink("https://hooks.example.com/x", { allowAddresses: [] })), [
    { entry: "hooks.example.com:443", scheme: "https", host: "hooks.example.com", port: 443, ip: false },
  ]);
  assert.deepEqual(
    egressRulesFor(sink("https://internal.test:8443/", { allowAddresses: ["10.0.0.5", "::1"] })),
    [
      { entry: "internal.test:8443", scheme: "https", host: "internal.test", port: 8443, ip: false },
      { entry: "10.0.0.5:8443", scheme: "https", host: "10.0.0.5", port: 8443, ip: true },
      { entry: "[::1]:8443", scheme: "https", host: "::1", port: 8443, ip: true },
    ],
  );
  // An https url naming an unlisted private address grants the name only: the address check refuses it.
  assert.deepEqual(egressRulesFor(sink("https://10.0.0.9/", { allowAddresses: [] })), [
    { entry: "10.0.0.9:443", scheme: "https", host: "10.0.0.9", port: 443, ip: false },
  ]);
  assert.deepEqual(egressRulesFor(sink("http://127.0.0.1:8080/")), [
    { entry: "http://127.0.0.1:8080", scheme: "http", host: "127.0.0.1", port: 8080, ip: false },
    { entry: "http://127.0.0.1:8080", scheme: "http", host: "127.0.0.1", port: 8080, ip: true },
  ]);
  assert.deepEqual(egressRulesFor(sink("http://hooks.example.com/", { allowAddresses: [] })), []);
  for (const [url, allow, message] of [
    ["https://h.example/", ["localhost"], /lists "localhost" in allowAddresses, which is not an IP address/],
    ["https://h.example/", ["010.0.0.1"], /lists "010\.0\.0\.1"/],
    ["ftp://h.example/", [], /has url scheme "ftp:"/],
    ["https://u:p@h.example/", [], /has credentials in its url/],
  ] as const) {
    assert.throws(() => egressRulesFor(sink(url, { allowAddresses: allow })), {
      code: "PAL_SINK_INVALID",
      message,
    });
  }
});

test("a sink misconfigured so that no rule can be made fails instead of throwing", async () => {
  const outcome = await sendToSink(sink("https://h.example/", { allowAddresses: ["nope"] }), event());
  assert.equal(outcome.kind, "failed");
  assert.match(outcome.kind === "failed" ? outcome.message : "", /not an IP address/);
});
