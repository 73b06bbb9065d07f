/**
 * The admin API against a running platform: every route refuses a request without a credential
 * (401) and with a producer's key (403), and opens by role (viewer < operator < admin); sessions
 * need their CSRF token to change anything; actions are audited with the admin's name; /metrics
 * needs a credential unless the manifest makes it public.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readAudit } from "../src/audit/index.ts";
import { startPlatform } from "../src/main.ts";
import { ADMIN_KEY, adminCall, deadLetterApp, KEYS, setAdminKey, setAdminKeys } from "./kit/admin.ts";
import { waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const ROLE_KEY = { viewer: KEYS.EVE_KEY, operator: KEYS.OPS_KEY, admin: KEYS.ROOT_KEY } as const;

const FILES = deadLetterApp("admin");
const APP = FILES["palisade.yaml"] as string;

async function startAdminApp(
  t: import("node:test").TestContext,
  files: Record<string, string | object> = FILES,
) {
  const dir = tempApp(t, files);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKeys(dir);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  return { dir, logs, platform, url: platform.url };
}

/** Every route, the least role it needs, and a request that role may make. */
const ROUTES: readonly {
  method: "GET" | "POST" | "DELETE";
  path: string;
  role: keyof typeof ROLE_KEY;
  body?: unknown;
}[] = [
  { method: "GET", path: "/whoami", role: "viewer" },
  { method: "GET", path: "/overview", role: "viewer" },
  { method: "GET", path: "/events", role: "viewer" },
  { method: "GET", path: "/functions", role: "viewer" },
  { method: "GET", path: "/graph", role: "viewer" },
  { method: "GET", path: "/dlq", role: "viewer" },
  { method: "GET", path: "/audit?limit=5", role: "viewer" },
  { method: "POST", path: "/audit/verify", role: "viewer" },
  { method: "GET", path: "/traces", role: "viewer" },
  { method: "GET", path: "/keys", role: "viewer" },
  { method: "GET", path: "/secrets", role: "viewer" },
  { method: "GET", path: "/quarantine", role: "viewer" },
  { method: "POST", path: "/replay", role: "operator", body: { since: "1m", type: "nothing.here" } },
  { method: "POST", path: "/quarantine/hold", role: "operator", body: { kind: "function", name: "work" } },
  { method: "POST", path: "/quarantine/release", role: "operator", body: { kind: "function", name: "work" } },
  {
    method: "POST",
    path: "/secrets/TEST_KEY/rotate",
    role: "admin",
    body: { value: TEST_KEY, graceSec: 60 },
  },
  { method: "POST", path: "/keys/rotate", role: "admin" },
];

test("every admin route: 401 without a credential, 403 with a producer's key, and open from its role up", async (t) => {
  // Dozens of refused credentials from one address on purpose: report them, do not block it.
  const { url } = await startAdminApp(t, {
    ...FILES,
    "palisade.yaml": `${APP}detect:\n  credentialStuffing: { response: alert }\n`,
  });
  const order = ["viewer", "operator", "admin"] as const;
  for (const r of ROUTES) {
    const anon = await adminCall(url, r.method, r.path, { key: null, body: r.body });
    assert.equal(anon.status, 401, `${r.method} ${r.path} without a credential`);
    assert.equal(anon.body.error.code, "PAL_ADMIN_UNAUTHENTICATED");
    const producer = await adminCall(url, r.method, r.path, { key: TEST_KEY, body: r.body });
    assert.equal(producer.status, 403, `${r.method} ${r.path} with a producer's key`);
    assert.match(producer.body.error.message, /producer's credential never opens \/admin/);
    const wrong = await adminCall(url, r.method, r.path, { key: "guess-0123456789", body: r.body });
    assert.equal(wrong.status, 401, `${r.method} ${r.path} with an unknown key`);
    for (const role of order) {
      const res = await adminCall(url, r.method, r.path, { key: ROLE_KEY[role], body: r.body });
      const allowed = order.indexOf(role) >= order.indexOf(r.role);
      // A role above the least one may find the work done (409: already held, not held).
      const done = role !== r.role && res.status === 409;
      if (allowed)
        assert.ok(
          res.status < 300 || done,
          `${r.method} ${r.path} as ${role}: ${res.status} ${JSON.stringify(res.body)}`,
        );
      else {
        assert.equal(res.status, 403, `${r.method} ${r.path} as ${role}`);
        assert.match(res.body.error.message, new RegExp(`needs the ${r.role} role`));
      }
    }
  }
  const stream = await fetch(`${url}/admin/v1/stream`);
  assert.equal(stream.status, 401, "the live stream needs a credential too");
});

test("events, one event, a dead letter replayed by an operator (audited with its name), and bad input named", async (t) => {
  const { url, dir, logs } = await startAdminApp(t);
  const ok = (await post(`${url}/events`, { type: "job.queued", data: { n: 1 } })).body.ids[0] as string;
  const until = Date.now() + 1500;
  const bad = (await post(`${url}/events`, { type: "job.queued", data: { n: until } })).body.ids[0] as string;
  await waitUntil(
    "a dead letter",
    async () => (await adminCall(url, "GET", "/dlq", { key: KEYS.EVE_KEY })).body.length === 1,
  );

  const page = await adminCall(url, "GET", "/events?limit=1", { key: KEYS.EVE_KEY });
  assert.deepEqual(
    page.body.events.map((e: { id: string }) => e.id),
    [bad],
    "newest first",
  );
  const older = await adminCall(url, "GET", `/events?limit=5&before=${page.body.next}`, {
    key: KEYS.EVE_KEY,
  });
  assert.deepEqual(
    older.body.events.map((e: { id: string }) => e.id),
    [ok],
  );
  assert.equal(older.body.next, undefined, "nothing older");
  const typed = await adminCall(url, "GET", "/events?type=job.*&principal=nobody", { key: KEYS.EVE_KEY });
  assert.deepEqual(typed.body.events, [], "filters apply");

  const one = await adminCall(url, "GET", `/events/${bad}`, { key: KEYS.EVE_KEY });
  assert.equal(one.body.copies[0].event.data.n, until);
  assert.deepEqual(
    one.body.deliveries.map((d: { target: string; state: string }) => [d.target, d.state]),
    [["work", "failed"]],
  );
  assert.equal((await adminCall(url, "GET", "/events/no-such-id", { key: KEYS.EVE_KEY })).status, 404);

  await waitUntil("the cause to pass", () => Date.now() > until + 50);
  const replay = await adminCall(url, "POST", "/dlq/replay", { key: KEYS.OPS_KEY, body: { eventId: bad } });
  assert.equal(replay.status, 200);
  assert.deepEqual(replay.body, { matched: 1, requeued: 1, refused: [] });
  await logs.waitFor((l) => l.msg === "worked" && l.n === until);
  // The settle is committed a moment after the function's log line (many settles to a commit).
  let after = await adminCall(url, "GET", `/events/${bad}`, { key: KEYS.EVE_KEY });
  await waitUntil("the replayed delivery settled", async () => {
    after = await adminCall(url, "GET", `/events/${bad}`, { key: KEYS.EVE_KEY });
    return after.body.deliveries[0]?.state !== "pending";
  });
  assert.deepEqual(
    after.body.deliveries.map((d: { state: string }) => d.state),
    ["delivered"],
  );
  assert.equal(after.body.history.length, 1, "the dead letter is kept in its history");

  const again = await adminCall(url, "POST", "/dlq/replay", { key: KEYS.OPS_KEY, body: { eventId: bad } });
  assert.equal(again.status, 404, "no dead letter left");
  const invalid = await adminCall(url, "POST", "/dlq/replay", { key: KEYS.OPS_KEY, body: { eventId: 7 } });
  assert.equal(invalid.status, 400);
  assert.match(invalid.body.error.message, /"eventId" must be a non-empty string/);
  const limit = await adminCall(url, "GET", "/events?limit=0", { key: KEYS.EVE_KEY });
  assert.equal(limit.status, 400);
  assert.match(limit.body.error.message, /"limit" must be a whole number from 1 to 200/);
  const form = await fetch(`${url}/admin/v1/dlq/replay`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEYS.OPS_KEY}`, "content-type": "application/x-www-form-urlencoded" },
    body: `eventId=${bad}`,
  });
  assert.equal(form.status, 415, "state changes are JSON only (a cross-site form cannot send them)");

  await waitUntil("the replay's audit record", () =>
    readAudit(join(dir, ".palisade/audit.db"), { limit: 1000 }).some(
      (r) => r.kind === "delivery.replayed" && r.actor === "admin:ops" && r.details?.eventId === bad,
    ),
  );
});

test("a session: HttpOnly SameSite=Strict cookie, CSRF token on every change, logout ends it; logins are audited", async (t) => {
  const { url, dir } = await startAdminApp(t);
  const login = async (key: string) =>
    fetch(`${url}/admin/v1/session`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: "{}",
    });
  const refused = await login("not-a-key-0123456789");
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("set-cookie"), null);
  assert.equal((await login(TEST_KEY)).status, 403, "a producer cannot log in");

  const res = await login(KEYS.OPS_KEY);
  assert.equal(res.status, 200);
  const cookie = res.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^palisade_session=[\w-]{40,};/);
  assert.match(cookie, /HttpOnly/i);
  assert.match(cookie, /SameSite=Strict/i);
  assert.doesNotMatch(cookie, /Secure/i, "plain HTTP on loopback: Secure would drop it");
  const { csrf, role, admin } = (await res.json()) as { csrf: string; role: string; admin: string };
  assert.deepEqual([admin, role], ["ops", "operator"]);
  const session = cookie.split(";")[0] ?? "";
  const withSession = (method: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/admin/v1${path}`, {
      method,
      headers: {
        cookie: session,
        ...(method === "GET" ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(method === "GET" ? {} : { body: JSON.stringify({ kind: "function", name: "work" }) }),
    });
  assert.equal((await withSession("GET", "/whoami")).status, 200);
  const noToken = await withSession("POST", "/quarantine/hold");
  assert.equal(noToken.status, 403);
  assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, "PAL_ADMIN_CSRF");
  const wrongToken = await withSession("POST", "/quarantine/hold", { "x-csrf-token": `${csrf}x` });
  assert.equal(wrongToken.status, 403);
  assert.equal((await withSession("POST", "/quarantine/hold", { "x-csrf-token": csrf })).status, 200);
  assert.equal((await withSession("POST", "/quarantine/release", { "x-csrf-token": csrf })).status, 200);
  assert.equal((await withSession("DELETE", "/session", { "x-csrf-token": csrf })).status, 200);
  assert.equal((await withSession("GET", "/whoami")).status, 401, "the session ended");

  // The audit log writes in batches: wait for the logins and the hold to be on disk.
  const audited = () => readAudit(join(dir, ".palisade/audit.db"), { limit: 1000 });
  await waitUntil(
    "the login and hold records",
    () =>
      audited().filter((r) => r.kind === "admin.login").length >= 3 &&
      audited().some((r) => r.kind === "function.quarantined"),
  );
  const logins = audited().filter((r) => r.kind === "admin.login");
  assert.deepEqual(
    logins.map((r) => [r.outcome, r.actor ?? null]),
    [
      ["denied", null],
      ["denied", null],
      ["allowed", "admin:ops"],
    ],
  );
  const held = audited().find((r) => r.kind === "function.quarantined");
  assert.equal(held?.actor, "admin:ops", "the kill switch names the admin");
});

test("/metrics needs an admin's credential unless metrics.public; /healthz and /readyz stay open", async (t) => {
  const { url } = await startAdminApp(t);
  assert.equal((await fetch(`${url}/metrics`)).status, 401);
  assert.equal(
    (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TEST_KEY}` } })).status,
    403,
  );
  const viewer = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${KEYS.EVE_KEY}` } });
  assert.equal(viewer.status, 200);
  assert.match(await viewer.text(), /palisade_ingress_accepted_total/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);

  const open = await startAdminApp(t, { ...FILES, "palisade.yaml": `${APP}metrics: { public: true }\n` });
  assert.equal((await fetch(`${open.url}/metrics`)).status, 200);
});

test("a login page asking whether it has a session guesses nothing: it never gets its address blocked", async (t) => {
  const { url } = await startAdminApp(t);
  for (let i = 0; i < 15; i++) assert.equal((await fetch(`${url}/admin/v1/whoami`)).status, 401);
  assert.equal((await fetch(`${url}/ui/`)).status, 200);
  // Guessing is counted: ten wrong keys a minute from one address block it.
  for (let i = 0; i < 10; i++) await adminCall(url, "GET", "/whoami", { key: `guess-${i}-0123456789` });
  assert.equal((await adminCall(url, "GET", "/whoami", { key: KEYS.EVE_KEY })).status, 429);
});

test("without admins: the implicit admin local works once PALISADE_ADMIN_KEY is set, and not before", async (t) => {
  const dir = tempApp(t, {
    ...FILES,
    "palisade.yaml": APP.replace(/admins:\n( {2}.*\n)+/, ""),
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const before = await adminCall(platform.url, "GET", "/whoami");
  assert.equal(before.status, 401);
  setAdminKey(dir);
  // Gateways read keys again every 2 s; polled slowly, since ten refusals a minute from one address
  // are what the credential-stuffing detector blocks.
  await waitUntil("the key to be read", async () => {
    await new Promise((r) => setTimeout(r, 700));
    return (await adminCall(platform.url, "GET", "/whoami")).status === 200;
  });
  const me = await adminCall(platform.url, "GET", "/whoami", { key: ADMIN_KEY });
  assert.deepEqual([me.body.admin, me.body.role], ["local", "admin"]);
});

test("answers carry a strict CSP, no framing and no caching", async (t) => {
  const { url } = await startAdminApp(t);
  for (const path of ["/ui/", "/admin/v1/whoami"]) {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${KEYS.EVE_KEY}` } });
    assert.match(
      res.headers.get("content-security-policy") ?? "",
      /script-src 'self';.*frame-ancestors 'none'/,
    );
    assert.doesNotMatch(res.headers.get("content-security-policy") ?? "", /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("cache-control"), "no-store");
  }
  const page = await (await fetch(`${url}/ui/`)).text();
  assert.doesNotMatch(page, /<script>|<style>|style=/, "no inline script or style");
  assert.equal((await fetch(`${url}/ui/app.js`)).status, 200);
  assert.equal((await fetch(`${url}/ui/nope.js`)).status, 404);
  const deep = await fetch(`${url}/ui/events/some-id`);
  assert.equal(deep.status, 200, "a page's address opens the page (reload, new tab)");
  assert.match(await deep.text(), /\/ui\/app\.js/);
  const unknown = await fetch(`${url}/admin/v1/nothing`, {
    headers: { authorization: `Bearer ${KEYS.EVE_KEY}` },
  });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "PAL_ADMIN_NOT_FOUND");
  assert.equal(unknown.headers.get("x-frame-options"), "DENY");
  assert.ok(readFileSync(new URL("../ui/index.html", import.meta.url), "utf8").includes("/ui/app.js"));
});

test("the live stream shows an accepted event and a refused request within moments", async (t) => {
  const { url } = await startAdminApp(t);
  const controller = new AbortController();
  t.after(() => controller.abort());
  const res = await fetch(`${url}/admin/v1/stream`, {
    headers: { authorization: `Bearer ${KEYS.EVE_KEY}` },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const until = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`no ${what} in the stream: ${text.slice(-500)}`);
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended");
      text += decoder.decode(value, { stream: true });
    }
  };
  await until("hello", () => text.includes("event: hello"));
  const id = (await post(`${url}/events`, { type: "job.queued", data: { n: 5 } })).body.ids[0] as string;
  await post(`${url}/events`, { type: "job.queued", data: { n: -1 } }); // refused by the schema
  await until("the accepted event", () => text.includes(`"ids":["${id}"]`));
  await until("the refusal", () => text.includes('"kind":"rejected"'));
  await until(
    "its delivery",
    () => text.includes(`"kind":"settled","at":`) && text.includes(`"eventId":"${id}"`),
  );
});

test("a JWT admin: its issuer's tokens open /admin by role; a producer's JWT from another issuer is 403, an expired one 401", async (t) => {
  const { exportJWK, generateKeyPair, SignJWT } = await import("jose");
  const staff = await generateKeyPair("ES256");
  const partner = await generateKeyPair("ES256");
  const jwks = async (key: CryptoKey) => ({ keys: [{ ...(await exportJWK(key)), kid: "k1", alg: "ES256" }] });
  const { url } = await startAdminApp(t, {
    ...FILES,
    "palisade.yaml": APP.replace(
      "  eve: { apiKey: { secret: EVE_KEY }, role: viewer }\n",
      "  eve: { apiKey: { secret: EVE_KEY }, role: viewer }\n  oncall: { jwt: { issuer: https://staff.example, audience: palisade-admin, jwks: keys/staff.json }, role: operator }\n",
    ).replace(
      "publish: [job.queued]",
      "publish: [job.queued]\n  partner:\n    jwt: { issuer: https://partner.example, audience: shop, jwks: keys/partner.json }\n    publish: [job.queued]",
    ),
    "keys/staff.json": await jwks(staff.publicKey),
    "keys/partner.json": await jwks(partner.publicKey),
  });
  const token = (key: CryptoKey, issuer: string, audience: string, exp = "5m") =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key);
  const me = await adminCall(url, "GET", "/whoami", {
    key: await token(staff.privateKey, "https://staff.example", "palisade-admin"),
  });
  assert.deepEqual([me.status, me.body.admin, me.body.role], [200, "oncall", "operator"]);
  const rotate = await adminCall(url, "POST", "/keys/rotate", {
    key: await token(staff.privateKey, "https://staff.example", "palisade-admin"),
  });
  assert.equal(rotate.status, 403, "an operator may not rotate keys");
  const producer = await adminCall(url, "GET", "/whoami", {
    key: await token(partner.privateKey, "https://partner.example", "shop"),
  });
  assert.equal(producer.status, 403);
  const expired = await adminCall(url, "GET", "/whoami", {
    key: await token(staff.privateKey, "https://staff.example", "palisade-admin", "-1m"),
  });
  assert.equal(expired.status, 401);
  assert.match(expired.body.error.message, /ERR_JWT_EXPIRED/);
  const forged = await adminCall(url, "GET", "/whoami", {
    key: await token(partner.privateKey, "https://staff.example", "palisade-admin"),
  });
  assert.equal(forged.status, 401, "the staff issuer's name signed with another key");
});
