import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { makeCertificates } from "./kit/certs.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { type RawReply, readReply } from "./kit/read-reply.ts";
import { NUMBER_SCHEMA, setSecret, tempApp } from "./kit/temp-app.ts";

function send(
  url: string,
  options: { ca: string; cert?: string; key?: string; authorization?: string },
  body: string,
) {
  return new Promise<RawReply>((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.authorization) headers.authorization = options.authorization;
    const tls = { ca: options.ca, cert: options.cert, key: options.key };
    const req = request(url, { method: "POST", headers, ...tls }, (res) => resolve(readReply(res)));
    req.on("error", reject);
    req.end(body);
  });
}

test("over TLS, a client certificate from the client CA authenticates its principal; a rogue one does not", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: mtls
events:
  order.created: { schema: schemas/n.json }
tls: { cert: tls/server.crt, key: tls/server.key, clientCa: tls/ca.crt }
principals:
  storefront: { mtls: { subject: "CN=storefront,O=Shop" }, publish: [order.created] }
  other: { mtls: { subject: "CN=someone-else" }, publish: [order.created] }
  keyed: { apiKey: { secret: TEST_KEY }, publish: [order.created] }
functions: {}
`,
    "schemas/n.json": NUMBER_SCHEMA,
  });
  mkdirSync(join(dir, "tls"));
  const certs = makeCertificates(join(dir, "tls"));
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  assert.match(platform.url, /^https:\/\//);
  const events = `${platform.url}/events`;
  const body = JSON.stringify({ type: "order.created", data: { n: 1 } });

  const ok = await send(events, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }, body);
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  const [stored] = await platform.store.events.read(0, 1);
  assert.equal(stored?.event.principal, "storefront");

  const rogue = await send(events, { ca: certs.ca, cert: certs.rogueCert, key: certs.rogueKey }, body);
  assert.equal(rogue.status, 401);
  const none = await send(events, { ca: certs.ca }, body);
  assert.equal(none.status, 401);
  const byKey = await send(events, { ca: certs.ca, authorization: `Bearer ${TEST_KEY}` }, body);
  assert.equal(byKey.status, 202);
  assert.equal((await platform.store.events.read(0, 10)).length, 2);
});

test("an mtls principal without tls.clientCa is a manifest error", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: mtls\nevents:\n  order.created: { schema: schemas/n.json }\nprincipals:\n  s: { mtls: { subject: "CN=s" }, publish: [order.created] }\nfunctions: {}\n`,
    "schemas/n.json": NUMBER_SCHEMA,
  });
  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_MANIFEST_INVALID",
    message: /principals\.s\.mtls: needs tls\.clientCa/,
  });
});

test("an mTLS admin: its client certificate opens /admin by role; a rogue certificate does not; the session cookie is Secure over TLS", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: mtls-admin
events:
  order.created: { schema: schemas/n.json }
tls: { cert: tls/server.crt, key: tls/server.key, clientCa: tls/ca.crt }
principals:
  keyed: { apiKey: { secret: TEST_KEY }, publish: [order.created] }
admins:
  ops: { mtls: { subject: "CN=storefront,O=Shop" }, role: operator }
functions: {}
`,
    "schemas/n.json": NUMBER_SCHEMA,
  });
  mkdirSync(join(dir, "tls"));
  const certs = makeCertificates(join(dir, "tls"));
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const admin = (path: string, cert?: { cert: string; key: string }, method = "GET") =>
    new Promise<RawReply>((resolve, reject) => {
      const req = request(
        `${platform.url}/admin/v1${path}`,
        { method, headers: { "content-type": "application/json" }, ca: certs.ca, ...cert },
        (res) => resolve(readReply(res)),
      );
      req.on("error", reject);
      req.end(method === "GET" ? undefined : "{}");
    });
  const me = await admin("/whoami", { cert: certs.clientCert, key: certs.clientKey });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.deepEqual([me.body.admin, me.body.role], ["ops", "operator"]);
  assert.equal((await admin("/whoami", { cert: certs.rogueCert, key: certs.rogueKey })).status, 401);
  assert.equal((await admin("/whoami")).status, 401);
  const login = await admin("/session", { cert: certs.clientCert, key: certs.clientKey }, "POST");
  assert.equal(login.status, 200);
  const cookie = String(login.headers["set-cookie"] ?? "");
  assert.match(cookie, /Secure/);
  assert.match(cookie, /Path=\/admin\//);
});
