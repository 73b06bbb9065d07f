/**
 * Verifiable events and sinks on the NATS JetStream backend: a producer-signed event through a
 * gateway on NATS is verified and delivered to a sink (target `sink:<name>`, a JetStream consumer
 * like a function's), which gets it signed by the platform with the producer's key id as
 * `palisadeverified`; a 429 with Retry-After is waited out there too.
 */
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { dataSpans, signEvent } from "../src/verifiable/index.ts";
import { startDev, stop } from "./kit/cli-process.ts";
import { palisadeJson, waitUntil } from "./kit/cli-run.ts";
import { TEST_KEY } from "./kit/http.ts";
import { independentVerify } from "./kit/independent-verifiability.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const PRODUCER = generateKeyPairSync("ed25519");

test("on NATS, a signed event is verified at the gateway and reaches a sink signed by the platform", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  const received: { at: number; headers: IncomingMessage["headers"]; body: string }[] = [];
  const answers = [429];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const status = answers.shift() ?? 204;
      res.writeHead(status, status === 429 ? { "retry-after": "1" } : {}).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const dir = tempApp(t, {
    "palisade.yaml": `name: sinks-nats
events:
  order.placed: { schema: schemas/order.json }
principals:
  shop:
    apiKey: { secret: TEST_KEY }
    publish: [order.placed]
    signing: { keys: [{ keyid: shop-ed, publicKey: keys/shop-ed.pem }] }
functions: {}
sinks:
  ledger:
    url: http://127.0.0.1:${port}/
    on: [order.placed]
    allowAddresses: ["127.0.0.1"]
`,
    "schemas/order.json": { type: "object", required: ["n"], properties: { n: { type: "number" } } },
    "keys/shop-ed.pem": PRODUCER.publicKey.export({ type: "spki", format: "pem" }) as string,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  // After-hooks run in the order they are added: the platform stops before its nats-server.
  const dev = await startDev(dir, "dev", ["--nats", nats.url, "--accept-lazy-fsync"]).catch(async (err) => {
    await nats.stop();
    throw err;
  });
  t.after(async () => {
    await stop(dev.child);
    await nats.stop();
  });

  const attributes = {
    specversion: "1.0",
    id: "nats-1",
    source: "https://shop.example",
    type: "order.placed",
    datacontenttype: "application/json",
    time: "2026-12-04T12:00:00Z",
  };
  const data = '{"n":7}';
  const material = signEvent(
    { attributes, data: Buffer.from(data) },
    { keyid: "shop-ed", privateKey: PRODUCER.privateKey },
  );
  const sent = await fetch(`${dev.url}/events`, {
    method: "POST",
    headers: { "content-type": "application/cloudevents+json", authorization: `Bearer ${TEST_KEY}` },
    body: `${JSON.stringify({ ...attributes, dssematerial: material }).slice(0, -1)},"data":${data}}`,
  });
  assert.equal(sent.status, 202, await sent.clone().text());

  await waitUntil("the retried delivery", () => received.length >= 2, 60_000);
  const [first, second] = received as [(typeof received)[0], (typeof received)[0]];
  assert.ok(second.at - first.at >= 950, `retried after ${second.at - first.at} ms, Retry-After said 1 s`);
  const jwks = (await palisadeJson(["keys", "event-key", "--app", dir])) as {
    keys: (import("node:crypto").webcrypto.JsonWebKey & { kid: string })[];
  };
  const trust = new Map(jwks.keys.map((k) => [k.kid, createPublicKey({ key: k, format: "jwk" })]));
  const { data: _d, dssematerial, ...wire } = JSON.parse(second.body) as Record<string, unknown>;
  const verdict = independentVerify(
    wire,
    Buffer.from(dataSpans(second.body)?.[0]?.raw ?? ""),
    dssematerial as string,
    trust,
  );
  assert.ok(verdict.ok, JSON.stringify(verdict));
  assert.equal(wire.palisadeverified, "shop-ed");
  assert.equal(wire.palisadeprincipal, "shop");
});
