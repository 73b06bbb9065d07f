/**
 * Outbound delivery through `sinks:` on a running `palisade dev`: real receivers on loopback ports,
 * granted by exact address. Each checks the Standard Webhooks signature with the `standardwebhooks`
 * package and the `dssematerial` with an independent verifier against the app's event keys (from
 * `palisade keys event-key --json`, as a receiver would get them); Retry-After is honoured; a receiver
 * that keeps failing dead-letters the delivery, which `palisade dlq replay` delivers once it
 * recovers; a sink whose name resolves to loopback without a grant is refused and reaches nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPublicKey, type KeyObject, type webcrypto } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { type TestContext, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { dataSpans } from "../src/verifiable/index.ts";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { sleep } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { independentVerify } from "./kit/independent-verifiability.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const WEBHOOK_SECRET = `whsec_${Buffer.from("a sink secret of 32 bytes, ok!!!").toString("base64")}`;
const palisade = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

interface Received {
  at: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A receiver on 127.0.0.1 answering each request with the next status of `script` (then 204). */
async function receiver(t: TestContext, script: (number | [number, Record<string, string>])[] = []) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const step = script.shift() ?? 204;
      const [status, headers] = Array.isArray(step) ? step : [step, {}];
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, received, script };
}

async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    const got = probe();
    if (got !== undefined) return got;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The app's event keys as a receiver gets them: the JWKS `palisade keys event-key --json` prints. */
function eventKeys(dir: string): Map<string, KeyObject> {
  const out = palisade(["keys", "event-key", "--app", dir, "--json"]);
  assert.equal(out.status, 0, out.stderr);
  const jwks = JSON.parse(out.stdout) as { keys: (webcrypto.JsonWebKey & { kid: string })[] };
  return new Map(jwks.keys.map((k) => [k.kid, createPublicKey({ key: k, format: "jwk" })]));
}

/** Verifies a structured-mode delivery with the independent verifier (data: its raw member text). */
function verifyDelivery(body: string, keys: Map<string, KeyObject>) {
  const { data: _d, dssematerial, ...attributes } = JSON.parse(body) as Record<string, unknown>;
  const raw = dataSpans(body)?.[0]?.raw ?? "";
  return {
    result: independentVerify(attributes, Buffer.from(raw), dssematerial as string, keys),
    attributes,
  };
}

test("a sink gets each event as a signed CloudEvent with a Standard Webhooks signature, emits included", async (t) => {
  const rx = await receiver(t);
  const dir = tempApp(t, {
    "palisade.yaml": `name: sinks
events:
  order.placed: { schema: schemas/order.json }
  order.audited: { schema: schemas/order.json }
${testPrincipal(["order.placed"])}functions:
  audit:
    handler: functions/audit.ts
    on: [order.placed]
    emit: [order.audited]
sinks:
  ledger:
    url: http://127.0.0.1:${rx.port}/in
    on: [order.placed, order.audited]
    filter: { data: { n: [{ numeric: [">", 0] }] } }
    auth: { webhook: { secret: LEDGER_SECRET } }
    allowAddresses: ["127.0.0.1"]
`,
    "schemas/order.json": { type: "object", required: ["n"], properties: { n: { type: "number" } } },
    "functions/audit.ts":
      'export default async (e, ctx) => { await ctx.emit("order.audited", { n: e.data.n * 10 }); };',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "LEDGER_SECRET", WEBHOOK_SECRET);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const sent = await fetch(`${dev.url}/events`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${TEST_KEY}`,
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    },
    body: JSON.stringify({ type: "order.placed", data: { n: 4 } }),
  });
  assert.equal(sent.status, 202);
  await until("two deliveries", () => (rx.received.length >= 2 ? true : undefined));
  const keys = eventKeys(dir);
  const types = new Map<string, Record<string, unknown>>();
  for (const req of rx.received) {
    assert.equal(req.headers["content-type"], "application/cloudevents+json; charset=utf-8");
    new Webhook(WEBHOOK_SECRET).verify(req.body, req.headers as Record<string, string>);
    const { result, attributes } = verifyDelivery(req.body, keys);
    assert.ok(result.ok, `${req.body}: ${JSON.stringify(result)}`);
    assert.match(String(req.headers.traceparent), new RegExp(`^00-${traceId}-`), "the trace continues");
    types.set(String(attributes.type), attributes);
  }
  assert.equal(types.get("order.placed")?.palisadeprincipal, "tester");
  assert.equal(types.get("order.audited")?.palisadeprincipal, "function:audit");

  // The sink's filter applies as a function's: an event it does not match gets no delivery there.
  const negative = (await post(`${dev.url}/events`, { type: "order.placed", data: { n: -1 } })).body
    .ids[0] as string;
  // Routing happens when the event is stored, before the 202.
  const shown = JSON.parse(palisade(["events", "show", negative, "--app", dir, "--json"]).stdout) as {
    deliveries: { target: string }[];
  };
  assert.deepEqual(
    shown.deliveries.map((d) => d.target),
    ["audit"],
  );

  // A change anywhere breaks the signature the receiver checks.
  const placed = rx.received.find((r) => r.body.includes('"order.placed"'));
  const forged = (placed?.body ?? "").replace('"n":4', '"n":5');
  assert.equal(verifyDelivery(forged, keys).result.ok, false);

  // `palisade verify-event` reads the delivery the same way (default keys: the app's event keys).
  const check = spawnSync(process.execPath, [BIN, "verify-event", "-", "--app", dir, "--json"], {
    input: placed?.body ?? "",
    encoding: "utf8",
  });
  assert.equal(check.status, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).verified, true);
  const bad = spawnSync(process.execPath, [BIN, "verify-event", "-", "--app", dir], {
    input: forged,
    encoding: "utf8",
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /must be discarded \(core-mismatch\)/);
});

test("429 with Retry-After is waited out; a receiver that keeps failing dead-letters, and dlq replay delivers once it recovers", async (t) => {
  const slow = await receiver(t, [[429, { "retry-after": "1" }], 200]);
  const down = await receiver(t, [500, 500]);
  const dir = tempApp(t, {
    "palisade.yaml": `name: sinks
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions: {}
sinks:
  slow:
    url: http://127.0.0.1:${slow.port}/
    on: [job.queued]
    allowAddresses: ["127.0.0.1"]
    auth: { bearer: { secret: SLOW_TOKEN } }
  down:
    url: http://127.0.0.1:${down.port}/
    on: [job.queued]
    mode: binary
    allowAddresses: ["127.0.0.1"]
    retry: { attempts: 2, initialDelayMs: 50 }
`,
    "schemas/job.json": { type: "object", required: ["n"], properties: { n: { type: "number" } } },
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "SLOW_TOKEN", "slow-token-0123");
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const id = (await post(`${dev.url}/events`, { type: "job.queued", data: { n: 1 } })).body.ids[0] as string;

  await until("the retry after Retry-After", () => (slow.received.length >= 2 ? true : undefined));
  const [first, second] = slow.received as [Received, Received];
  assert.ok(second.at - first.at >= 950, `retried after ${second.at - first.at} ms, Retry-After said 1 s`);
  assert.equal(second.headers.authorization, "Bearer slow-token-0123");
  assert.equal(second.headers["content-type"], "application/cloudevents+json; charset=utf-8");

  const dead = await until("the dead letter", () => {
    const rows = JSON.parse(palisade(["dlq", "list", "--app", dir, "--json"]).stdout || "[]") as {
      eventId: string;
      target: string;
      reason: string;
    }[];
    return rows.find((r) => r.eventId === id);
  });
  assert.deepEqual([dead.target, dead.reason], ["sink:down", "attempts-exhausted"]);
  assert.equal(down.received.length, 2);
  assert.equal(down.received[0]?.headers["ce-id"], id, "binary mode");

  // The receiver is back (its script is used up: 204 from now on); replay delivers it once.
  const replay = palisade(["dlq", "replay", id, "--app", dir]);
  assert.equal(replay.status, 0, replay.stderr);
  await until("the replayed delivery", () => (down.received.length === 3 ? true : undefined));
  await sleep(300);
  assert.equal(down.received.length, 3);
});

test("a sink whose name resolves to loopback is refused without a grant, and its receiver gets nothing", async (t) => {
  const rx = await receiver(t);
  const dir = tempApp(t, {
    "palisade.yaml": `name: sinks
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions: {}
sinks:
  sneaky:
    url: https://localhost:${rx.port}/
    on: [job.queued]
`,
    "schemas/job.json": { type: "object", required: ["n"], properties: { n: { type: "number" } } },
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const id = (await post(`${dev.url}/events`, { type: "job.queued", data: { n: 1 } })).body.ids[0] as string;
  const dead = await until("the refusal", () => {
    const rows = JSON.parse(palisade(["dlq", "list", "--app", dir, "--json"]).stdout || "[]") as {
      eventId: string;
      reason: string;
      error: string;
    }[];
    return rows.find((r) => r.eventId === id);
  });
  assert.equal(dead.reason, "denied");
  assert.match(
    dead.error,
    /Sink "sneaky" may not deliver to https:\/\/localhost:\d+: "localhost" resolves to 127\.0\.0\.1, a loopback address/,
  );
  assert.match(dead.error, /sinks\.sneaky\.allowAddresses/);
  assert.equal(rx.received.length, 0);
});
