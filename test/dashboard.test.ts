/**
 * The dashboard (`/ui/`) in a real browser against a running platform: logging in and out through
 * the form (whose reloads never count as refused credentials), events arriving live (a batch's too),
 * a capability denial on the overview and in the audit log, a dead letter replayed, the audit chain
 * verified (and a changed record caught), hostile event data shown as text and never run, a viewer
 * offered no actions, the threat graph's sinks and verified sources, and every page rendered and saved
 * as a screenshot under test-artifacts/dashboard/.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, type TestContext, test } from "node:test";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { startPlatform } from "../src/main.ts";
import { adminCall, KEYS, setAdminKeys, TEST_ADMINS } from "./kit/admin.ts";
import { launchBrowser, NO_BROWSER, saveScreenshot, watchPage } from "./kit/browser.ts";
import { sleep, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const APP = `name: dashboard
events:
  job.queued: { schema: schemas/n.json }
  note.posted: { schema: schemas/note.json }
${testPrincipal(["job.queued", "note.posted"])}${TEST_ADMINS}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    retry: { attempts: 1 }
    kv: { tries: readwrite }
  prober:
    handler: functions/prober.ts
    on: [job.queued]
  notes:
    handler: functions/notes.ts
    on: [note.posted]
`;

const FILES = {
  "palisade.yaml": APP,
  "schemas/n.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: { n: { type: "integer", minimum: 0 } },
  },
  // Free text: whatever a sender writes, markup included.
  "schemas/note.json": {
    type: "object",
    required: ["text"],
    additionalProperties: false,
    properties: { text: { type: "string", maxLength: 1000 } },
  },
  // n = 13 fails its first attempt (one attempt allowed: a dead letter) and works when replayed:
  // the first attempt leaves a mark in kv, the replay finds it.
  "functions/work.ts": `export default async (e, ctx) => {
  if (e.data.n !== 13) return;
  const tried = await ctx.kv.get("tries", e.id);
  if (tried === undefined || tried === null) {
    await ctx.kv.set("tries", e.id, true);
    throw new Error("first attempt fails");
  }
  ctx.log.info("replayed and worked", { id: e.id });
};`,
  // n = 7 asks for a secret it was not granted (one target: a denial, not a probing burst).
  "functions/prober.ts": `export default async (e, ctx) => {
  if (e.data.n === 7) { try { await ctx.secrets.get("NOT_GRANTED"); } catch {} }
};`,
  "functions/notes.ts": 'export default (e, ctx) => ctx.log.info("note", { length: e.data.text.length });',
};

const IMG = `<img src=x onerror="window.__xss=1">`;
const SCRIPT = "<script>window.__xss=1</script>";

let browser: Browser | undefined;
// A first Chromium start on a fresh machine builds its font cache (over a minute in CI once).
before(
  async () => {
    if (NO_BROWSER === undefined) browser = await launchBrowser();
  },
  { timeout: 300_000 },
);
after(() => browser?.close());

/** The dashboard's app on a running platform, closed when the test ends. */
async function startDashboardApp(t: TestContext) {
  const dir = tempApp(t, FILES);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKeys(dir);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  // After-hooks run in the order they are added: the test's browser pages close first, so the
  // platform does not wait on their connections as it shuts down.
  t.after(async () => {
    for (const context of browser?.contexts() ?? []) await context.close();
    await platform.close();
  });
  const url = platform.url;
  const send = async (n: number): Promise<string> => {
    const res = await post(`${url}/events`, { type: "job.queued", data: { n } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.ids[0] as string;
  };
  return { dir, url, send };
}

interface Dashboard {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Fails the test on any uncaught error, console error or CSP violation the page had. */
  readonly assertClean: () => Promise<void>;
}

/** A fresh browser context (no cookies) with one page on the dashboard's login form. */
async function openDashboard(t: TestContext, url: string): Promise<Dashboard> {
  assert.ok(browser !== undefined);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const watch = await watchPage(page);
  await page.goto(`${url}/ui/`);
  await page.locator("#api-key").waitFor();
  return {
    context,
    page,
    async assertClean() {
      assert.deepEqual(await watch.problems(), [], "the page had errors");
    },
  };
}

/** Logs in through the form and waits for the dashboard (the overview) to show. */
async function logIn(page: Page, key: string): Promise<void> {
  await page.fill("#api-key", key);
  await page.click("form.login-card button[type=submit]");
  await page.locator("nav.sidebar").waitFor();
}

/** Goes to a page through the sidebar and waits for its heading. */
async function openPage(page: Page, link: string, heading: string): Promise<void> {
  await page.locator(".nav-link", { hasText: link }).click();
  await page.locator("h1", { hasText: heading }).waitFor();
}

/** Clicks `refresh` until `target` shows (for what the platform writes a moment later), or throws. */
async function refreshUntilVisible(
  target: Locator,
  refresh: Locator,
  what: string,
  ms = 15_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await target.first().isVisible())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await refresh.click();
    await sleep(300);
  }
}

const skip = NO_BROWSER ?? false;

test("login: a wrong key is refused with the API's message and no cookie; the session cookie is HttpOnly and SameSite=Strict; logout ends it", {
  skip,
}, async (t) => {
  const { url } = await startDashboardApp(t);
  const { context, page, assertClean } = await openDashboard(t, url);

  await page.fill("#api-key", "wrong-key-0123456789");
  await page.click("form.login-card button[type=submit]");
  const refusal = page.locator(".login-card .notice-bad");
  await refusal.waitFor();
  assert.equal(await refusal.textContent(), "Unknown API key");
  assert.deepEqual(await context.cookies(), [], "a refused login sets no cookie");

  await logIn(page, KEYS.ROOT_KEY);
  assert.equal(await page.locator(".who-name").textContent(), "root");
  assert.equal(await page.locator(".who .badge").textContent(), "admin");
  const session = (await context.cookies()).find((c) => c.name === "palisade_session");
  assert.ok(session !== undefined, "a session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(await page.evaluate("document.cookie"), "", "the page's script cannot read it");

  const whoami = (value: string) =>
    fetch(`${url}/admin/v1/whoami`, { headers: { cookie: `palisade_session=${value}` } });
  assert.equal((await whoami(session.value)).status, 200);

  await page.locator("button.logout").click();
  await page.locator("#api-key").waitFor();
  assert.match((await page.locator(".login-card .notice-info").textContent()) ?? "", /logged out/);
  assert.equal((await whoami(session.value)).status, 401, "the old cookie no longer works");
  assert.equal((await context.cookies()).filter((c) => c.name === "palisade_session").length, 0);
  await assertClean();
});

test("the login form asks nothing of the API until a key is entered, so reloading it is never a refused credential", {
  skip,
}, async (t) => {
  const { url } = await startDashboardApp(t);
  const { page, assertClean } = await openDashboard(t, url);
  const calls: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/admin/")) calls.push(request.url());
  });
  // Ten refused credentials a minute from one address get it blocked (detect.credentialStuffing).
  for (let i = 0; i < 12; i++) {
    await page.reload();
    await page.locator("#api-key").waitFor();
  }
  assert.deepEqual(calls, []);
  await logIn(page, KEYS.ROOT_KEY);
  // Reloaded with a session, the page asks who is logged in and stays in.
  await page.reload();
  await page.locator("nav.sidebar").waitFor();
  assert.deepEqual(calls.map((c) => new URL(c).pathname).slice(0, 2), [
    "/admin/v1/session",
    "/admin/v1/whoami",
  ]);
  await assertClean();
});

test("an event sent while the live page is open appears live; its page shows the envelope and delivery; its trace shows the invocation", {
  skip,
}, async (t) => {
  const { url, send } = await startDashboardApp(t);
  const { page, assertClean } = await openDashboard(t, url);
  await logIn(page, KEYS.ROOT_KEY);
  await openPage(page, "Live events", "Events");
  await page.locator(".live-events .live-live").waitFor(); // the stream is connected: nothing sent now is missed

  const id = await send(5);
  const row = page.locator(".live-events tbody tr", { hasText: id });
  await row.waitFor();
  assert.match((await row.textContent()) ?? "", /job\.queued.*tester/);
  await row.getByRole("link", { name: id }).click();

  await page.locator("h1", { hasText: "Event" }).waitFor();
  assert.equal(new URL(page.url()).pathname, `/ui/events/${encodeURIComponent(id)}`);
  await page
    .locator(".deliveries tr", { hasText: "work" })
    .locator(".badge", { hasText: "delivered" })
    .waitFor();
  await page
    .locator(".deliveries tr", { hasText: "prober" })
    .locator(".badge", { hasText: "delivered" })
    .waitFor();
  const envelope = JSON.parse((await page.locator(".envelope pre").textContent()) ?? "");
  assert.equal(envelope.id, id);
  assert.deepEqual(envelope.data, { n: 5 });
  assert.equal(envelope.principal, "tester");

  await page.locator("a.trace-link").click();
  await page.locator("h1", { hasText: "Trace" }).waitFor();
  // Spans are exported in batches: the page reads the trace again until they are there.
  await page.locator(".span-row", { hasText: "invoke work" }).waitFor({ timeout: 30_000 });
  await page.locator(".span-row", { hasText: "ingress job.queued" }).waitFor({ timeout: 30_000 });
  await page.locator(".span-row", { hasText: "invoke work" }).click();
  const span = JSON.parse((await page.locator(".span-detail pre").textContent()) ?? "");
  assert.equal(span.attributes["palisade.event_id"], id);
  await assertClean();
});

test("a batch request shows live with the ids the stream lists (the first 20) and a count of the rest", {
  skip,
}, async (t) => {
  const { url } = await startDashboardApp(t);
  const { page, assertClean } = await openDashboard(t, url);
  await logIn(page, KEYS.ROOT_KEY);
  await openPage(page, "Live events", "Events");
  await page.locator(".live-events .live-live").waitFor();

  const batch = Array.from({ length: 25 }, (_, i) => ({
    specversion: "1.0",
    id: `batch-${i}`,
    source: "/batch",
    type: "job.queued",
    data: { n: 100 + i },
  }));
  const res = await post(`${url}/events`, batch, "application/cloudevents-batch+json");
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const live = page.locator(".live-events tbody");
  await live.getByText("…and 5 more in this request").waitFor();
  assert.equal(await live.getByRole("link", { name: /^batch-\d+$/ }).count(), 20);
  await live.getByRole("link", { name: "batch-19", exact: true }).waitFor();
  assert.equal(await live.getByRole("link", { name: "batch-20", exact: true }).count(), 0);
  await assertClean();
});

test("a capability denial shows on the overview (count and live item) and in the audit log; the function is not quarantined for one refusal", {
  skip,
}, async (t) => {
  const { url, send } = await startDashboardApp(t);
  const { page, assertClean } = await openDashboard(t, url);
  await logIn(page, KEYS.ROOT_KEY);
  await page.locator(".security-denials .stat-value", { hasText: /^0$/ }).waitFor();
  await page.locator(".sidebar .live-live").waitFor();

  await send(7);
  const item = page.locator(".security-feed .live-denied", { hasText: "NOT_GRANTED" });
  await item.waitFor();
  assert.match((await item.textContent()) ?? "", /prober was refused secret NOT_GRANTED/);
  await page.locator(".security-denials .stat-value", { hasText: /^1$/ }).waitFor();
  assert.match((await page.locator(".security-denials .count-list").textContent()) ?? "", /prober\s*1/);

  await openPage(page, "Audit log", "Audit log");
  await page.fill("input[name=kind]", "capability");
  const record = page.locator(".audit-record", { hasText: "capability.denied" });
  await refreshUntilVisible(
    record,
    page.getByRole("button", { name: "Refresh" }),
    "the denial's audit record",
  );
  const text = (await record.first().textContent()) ?? "";
  assert.match(text, /function:prober/);
  assert.match(text, /NOT_GRANTED/);

  await openPage(page, "Functions", "Functions");
  const prober = page.locator(".function", { hasText: "prober" });
  // The record of use is flushed every few seconds: the page shows it once it is there.
  await refreshUntilVisible(
    prober.locator(".denied tr", { hasText: "NOT_GRANTED" }),
    page.getByRole("button", { name: "Refresh" }),
    "the refused call on the Functions page",
    30_000,
  );
  assert.equal(await prober.locator(".badge", { hasText: "quarantined" }).count(), 0);
  await assertClean();
});

test("an operator replays a dead letter from the DLQ page and its delivery then succeeds", {
  skip,
}, async (t) => {
  const { url, send } = await startDashboardApp(t);
  const id = await send(13);
  const { page, assertClean } = await openDashboard(t, url);
  await logIn(page, KEYS.OPS_KEY);
  await openPage(page, "Dead letters", "Dead letters");
  const row = page.locator(".dead-letter", { hasText: id });
  await refreshUntilVisible(row, page.getByRole("button", { name: "Refresh" }), "the dead letter");
  assert.match((await row.textContent()) ?? "", /work.*attempts-exhausted.*first attempt fails/);

  await row.getByRole("button", { name: "Replay" }).click();
  const outcome = page.locator(".notice-ok", { hasText: "Replayed" });
  await outcome.waitFor();
  assert.match((await outcome.textContent()) ?? "", /1 of 1 requeued/);
  await outcome.getByRole("link", { name: id }).click();
  await page
    .locator(".deliveries tr", { hasText: "work" })
    .locator(".badge", { hasText: "delivered" })
    .waitFor();
  assert.match((await page.locator(".history").textContent()) ?? "", /failed.*attempts-exhausted/);

  const stored = await adminCall(url, "GET", `/events/${encodeURIComponent(id)}`, { key: KEYS.EVE_KEY });
  assert.deepEqual(
    stored.body.deliveries.map((d: { target: string; state: string }) => `${d.target}:${d.state}`).sort(),
    ["prober:delivered", "work:delivered"],
  );
  await assertClean();
});

test("audit verify from the audit page says intact, and NOT intact once a record is changed on disk; the shown records export as JSON Lines", {
  skip,
}, async (t) => {
  const { url, dir } = await startDashboardApp(t);
  const { page, assertClean } = await openDashboard(t, url);
  await logIn(page, KEYS.ROOT_KEY);
  // The overview verifies on load.
  assert.equal(await page.locator(".audit-chain .verdict").textContent(), "Intact");

  await openPage(page, "Audit log", "Audit log");
  const verify = page.locator(".audit-chain").getByRole("button", { name: "Verify" });
  await verify.click();
  await page.locator(".audit-chain .verdict-ok", { hasText: "Intact" }).waitFor();

  const rows = page.locator(".audit-record");
  await rows.first().waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export JSON Lines" }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^palisade-audit-.*\.jsonl$/);
  const lines = readFileSync(await download.path(), "utf8")
    .trimEnd()
    .split("\n");
  const exported = lines.map((l) => JSON.parse(l) as { seq: number; kind: string; hash: string });
  assert.equal(exported.length, await rows.count(), "every shown record, one per line");
  assert.ok(exported.some((r) => r.kind === "admin.login"));
  assert.deepEqual(
    exported.map((r) => r.seq),
    exported.map((r) => r.seq).toSorted((a, b) => a - b),
    "oldest first, as the log holds them",
  );

  // Someone with the file changes the first record (app.started, mode "dev"). The platform keeps
  // writing to the log meanwhile: wait for its lock rather than fail.
  const db = new DatabaseSync(join(dir, ".palisade", "audit.db"), { timeout: 5000 });
  const body = String(db.prepare("SELECT body FROM records WHERE seq = 1").get()?.body);
  const changed = body.replace('"dev"', '"xxx"');
  assert.notEqual(changed, body);
  db.prepare("UPDATE records SET body = ? WHERE seq = 1").run(changed);
  db.close();
  await verify.click();
  await page.locator(".audit-chain .verdict-bad", { hasText: "NOT intact" }).waitFor();
  assert.match((await page.locator(".audit-chain .problem").textContent()) ?? "", /record 1\b/);
  await assertClean();
});

test("hostile event data (ids, subject, extensions, data) is shown as text and never runs; the page has a strict CSP and cannot be framed", {
  skip,
}, async (t) => {
  const { url } = await startDashboardApp(t);
  const { page, assertClean } = await openDashboard(t, url);
  const response = await page.goto(`${url}/ui/`);
  const headers = response?.headers() ?? {};
  assert.match(
    headers["content-security-policy"] ?? "",
    /default-src 'none'; script-src 'self'; style-src 'self'/,
  );
  assert.doesNotMatch(headers["content-security-policy"] ?? "", /unsafe-inline|unsafe-eval/);
  assert.match(headers["content-security-policy"] ?? "", /frame-ancestors 'none'/);
  assert.equal(headers["x-frame-options"], "DENY");
  await logIn(page, KEYS.ROOT_KEY);
  await openPage(page, "Live events", "Events");
  await page.locator(".live-events .live-live").waitFor();

  const structured = (id: string, text: string) =>
    post(
      `${url}/events`,
      {
        specversion: "1.0",
        id,
        source: "/hostile",
        type: "note.posted",
        subject: IMG,
        myext: IMG,
        data: { text },
      },
      "application/cloudevents+json",
    );
  assert.equal((await structured(IMG, `${SCRIPT} and ${IMG}`)).status, 202);
  assert.equal((await structured(SCRIPT, SCRIPT)).status, 202);

  const notExecuted = async (where: string) => {
    assert.equal(await page.evaluate("window.__xss"), undefined, `script ran on ${where}`);
    assert.equal(await page.locator('img[src="x"]').count(), 0, `an <img> was built on ${where}`);
    assert.deepEqual(
      await page.evaluate("[...document.scripts].map((s) => s.src || s.textContent)"),
      [`${url}/ui/app.js`],
      `a <script> was built on ${where}`,
    );
  };
  const live = page.locator(".live-events tbody");
  await live.getByRole("link", { name: IMG, exact: true }).waitFor();
  await live.getByRole("link", { name: SCRIPT, exact: true }).waitFor();
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator(".stored-events").getByRole("link", { name: IMG, exact: true }).waitFor();
  await notExecuted("the events page");

  await live.getByRole("link", { name: IMG, exact: true }).click();
  await page.locator(".envelope pre").waitFor();
  assert.equal(new URL(page.url()).pathname, `/ui/events/${encodeURIComponent(IMG)}`);
  const envelope = JSON.parse((await page.locator(".envelope pre").textContent()) ?? "");
  assert.deepEqual(
    [envelope.id, envelope.subject, envelope.extensions, envelope.data],
    [IMG, IMG, { myext: IMG }, { text: `${SCRIPT} and ${IMG}` }],
    "the envelope reads exactly as sent",
  );
  await page.locator(".attributes dd", { hasText: IMG }).first().waitFor();
  await page.locator(".deliveries .badge", { hasText: "delivered" }).waitFor();
  await notExecuted("the event page");
  await assertClean();
});

test("a viewer is offered no replay, rotate or release and the API refuses a viewer's replay; an operator sees the Replay button", {
  skip,
}, async (t) => {
  const { url, send } = await startDashboardApp(t);
  const id = await send(13);
  await waitUntil(
    "the dead letter",
    async () => (await adminCall(url, "GET", "/dlq", { key: KEYS.EVE_KEY })).body.length === 1,
  );

  const viewer = await openDashboard(t, url);
  await logIn(viewer.page, KEYS.EVE_KEY);
  assert.equal(await viewer.page.locator(".who .badge").textContent(), "viewer");
  await openPage(viewer.page, "Dead letters", "Dead letters");
  await viewer.page.locator(".dead-letter", { hasText: id }).waitFor();
  assert.equal(await viewer.page.getByRole("button", { name: "Replay" }).count(), 0);
  await openPage(viewer.page, "Keys & secrets", "Keys & secrets");
  await viewer.page.locator(".secrets tbody tr").first().waitFor();
  assert.equal(await viewer.page.getByRole("button", { name: /Rotate/ }).count(), 0);
  await openPage(viewer.page, "Quarantine", "Quarantine");
  assert.equal(await viewer.page.locator(".hold-form").count(), 0);
  await viewer.assertClean();

  const refused = await adminCall(url, "POST", "/dlq/replay", { key: KEYS.EVE_KEY, body: { eventId: id } });
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, /needs the operator role/);
  assert.equal((await adminCall(url, "GET", "/dlq", { key: KEYS.EVE_KEY })).body.length, 1, "still dead");

  const operator = await openDashboard(t, url);
  await logIn(operator.page, KEYS.OPS_KEY);
  await openPage(operator.page, "Dead letters", "Dead letters");
  await operator.page
    .locator(".dead-letter", { hasText: id })
    .getByRole("button", { name: "Replay" })
    .waitFor();
  await operator.assertClean();
});

test("every page renders without an error or inline style and is saved as a screenshot", {
  skip,
}, async (t) => {
  const { url, send } = await startDashboardApp(t);
  for (const n of [1, 7, 13]) await send(n);
  const { page, assertClean } = await openDashboard(t, url);
  const refresh = page.getByRole("button", { name: "Refresh" });
  const shots: string[] = [];
  /** Checks the page shown and saves it as `<name>.png`. */
  const capture = async (name: string) => {
    assert.equal(await page.locator(".notice-bad").count(), 0, `an error shows on ${name}`);
    // The CSP allows no inline style; one set through the DOM would show as a style attribute.
    assert.equal(await page.locator("[style]").count(), 0, `an inline style on ${name}`);
    shots.push(await saveScreenshot(page, name));
  };

  await capture("login");
  await logIn(page, KEYS.ROOT_KEY);
  await page.locator(".audit-chain .verdict").waitFor();
  await page.locator(".security-denials .stat-value", { hasText: /^1$/ }).waitFor();
  await capture("overview");

  const pages: [name: string, link: string, ready: () => Promise<void>][] = [
    ["events", "Live events", () => page.locator(".stored-events tbody tr").first().waitFor()],
    [
      "functions",
      "Functions",
      () => refreshUntilVisible(page.locator(".function .denied"), refresh, "the denial"),
    ],
    ["graph", "Threat graph", () => page.locator("svg.graph .node-threat").first().waitFor()],
    [
      "dlq",
      "Dead letters",
      () => refreshUntilVisible(page.locator(".dead-letter"), refresh, "a dead letter"),
    ],
    ["audit", "Audit log", () => page.locator(".audit-record").first().waitFor()],
    ["traces", "Traces", () => refreshUntilVisible(page.locator("tbody tr"), refresh, "a trace", 30_000)],
    ["keys", "Keys & secrets", () => page.locator(".secrets tbody tr").first().waitFor()],
  ];
  for (const [name, link, ready] of pages) {
    await page.locator(".nav-link", { hasText: link }).click();
    await ready();
    await capture(name);
  }

  // The operator's kill switch, so the quarantine page has something to show.
  await openPage(page, "Quarantine", "Quarantine");
  await page.fill(".hold-form input[name=name]", "prober");
  await page.fill(".hold-form input[name=reason]", "screenshot");
  await page.getByRole("button", { name: "Hold now" }).click();
  await page.locator(".hold", { hasText: "prober" }).waitFor();
  await capture("quarantine");

  // The first event sent (the operator's hold is an event too, and has no spans), and its trace.
  await openPage(page, "Live events", "Events");
  const first = page.locator(".stored-events tbody tr", { hasText: "job.queued" }).last();
  await first.locator("a").first().click();
  await page.locator(".envelope pre").waitFor();
  await capture("event");
  await page.locator("a.trace-link").click();
  await page.locator(".span-row").first().waitFor({ timeout: 30_000 });
  await capture("trace");

  assert.equal(shots.length, 12);
  for (const path of shots) {
    assert.ok(statSync(path).size > 1000, `${path} is empty`);
    assert.equal(readFileSync(path).subarray(1, 4).toString(), "PNG", `${path} is not a PNG`);
  }
  await assertClean();
});

/** A receiver's token in the sink's query: the graph is served to viewers and must never show it. */
const SINK_TOKEN = "rcv-token-0123456789";

/**
 * An app whose flow has a sink (`ledger`, webhook auth, taking a type from outside and one a function
 * emits), a principal whose events must be signed (`shop`) beside one whose need not (`clerk`), and a
 * function that takes only verified events (`fulfil`) beside one that takes any (`tally`).
 */
const FLOW_FILES = {
  "palisade.yaml": `name: flows
events:
  order.placed: { schema: schemas/order.json }
  order.shipped: { schema: schemas/order.json }
principals:
  shop:
    apiKey: { secret: SHOP_KEY }
    publish: [order.placed]
    signing:
      keys:
        - { keyid: shop-ed, publicKey: keys/shop-ed.pem }
  clerk:
    apiKey: { secret: CLERK_KEY }
    publish: [order.placed]
${TEST_ADMINS}functions:
  fulfil:
    handler: functions/noop.ts
    on: [order.placed]
    emit: [order.shipped]
    requireVerified: true
  tally:
    handler: functions/noop.ts
    on: [order.placed]
sinks:
  ledger:
    url: http://127.0.0.1:9/in?token=${SINK_TOKEN}
    on: [order.placed, order.shipped]
    auth: { webhook: { secret: LEDGER_SECRET } }
    allowAddresses: ["127.0.0.1"]
`,
  "schemas/order.json": {
    type: "object",
    required: ["orderId"],
    additionalProperties: false,
    properties: { orderId: { type: "string", maxLength: 64 } },
  },
  "keys/shop-ed.pem": generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }),
  "functions/noop.ts": "export default () => {};",
};

test("the threat graph draws a sink as a fourth column with the edges into it, tags the verified source and the verified-only function, and never shows the sink's path or query", {
  skip,
}, async (t) => {
  const dir = tempApp(t, FLOW_FILES);
  setSecret(dir, "SHOP_KEY", "shop-key-0123456789");
  setSecret(dir, "CLERK_KEY", "clerk-key-0123456789");
  setSecret(
    dir,
    "LEDGER_SECRET",
    `whsec_${Buffer.from("a sink secret of 32 bytes, ok!!!").toString("base64")}`,
  );
  setAdminKeys(dir);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());

  // What the page reads: the graph as a viewer gets it.
  const graph = await adminCall(platform.url, "GET", "/graph", { key: KEYS.EVE_KEY });
  assert.equal(graph.status, 200);
  const node = (id: string) => graph.body.nodes.find((n: { id: string }) => n.id === id);
  assert.deepEqual(
    [node("k:ledger").name, node("k:ledger").endpoint, node("k:ledger").mode, node("k:ledger").auth],
    ["ledger", "http://127.0.0.1:9/...", "structured", "webhook"],
  );
  assert.deepEqual(
    graph.body.edges.filter((e: { to: string }) => e.to === "k:ledger"),
    [
      { from: "t:order.placed", to: "k:ledger" },
      { from: "t:order.shipped", to: "k:ledger" },
    ],
  );
  assert.equal(node("s:principal:shop").trust, "verified");
  assert.equal(node("s:principal:clerk").trust, "authenticated");
  assert.equal(node("f:fulfil").requireVerified, true);
  assert.equal(node("f:tally").requireVerified, false);
  assert.doesNotMatch(JSON.stringify(graph.body), new RegExp(SINK_TOKEN));

  const { page, assertClean } = await openDashboard(t, platform.url);
  await logIn(page, KEYS.EVE_KEY);
  await openPage(page, "Threat graph", "Threat graph");
  const svg = page.locator("svg.graph");
  const sink = svg.locator('[data-node="k:ledger"]');
  await sink.waitFor();
  assert.match((await sink.getAttribute("class")) ?? "", /\bnode-sink\b/);
  assert.equal(await sink.locator(".node-label").textContent(), "ledger → 127.0.0.1:9");
  assert.equal(await sink.locator(".node-tag-text").textContent(), "webhook");
  assert.match(
    (await sink.locator("title").textContent()) ?? "",
    /endpoint: http:\/\/127\.0\.0\.1:9\/\.\.\.\nmode: structured\nauth: webhook/,
  );

  // Sinks are the rightmost column, after the functions; the edges into it end at its left side.
  const box = async (id: string) => {
    const b = await svg.locator(`[data-node="${id}"] .node-box`).boundingBox();
    assert.ok(b !== null, `${id} is drawn`);
    return b;
  };
  const [source, type, fn, out] = await Promise.all(
    ["s:principal:shop", "t:order.placed", "f:fulfil", "k:ledger"].map(box),
  );
  assert.ok(source && type && fn && out);
  assert.ok(source.x < type.x && type.x < fn.x && fn.x < out.x, "columns: sources, types, functions, sinks");
  for (const from of ["t:order.placed", "t:order.shipped"]) {
    const edge = svg.locator(`path.edge[data-from="${from}"][data-to="k:ledger"]`);
    assert.match((await edge.getAttribute("class")) ?? "", /\bedge-out\b/);
    assert.doesNotMatch((await edge.getAttribute("class")) ?? "", /\bedge-emit\b/, "a forward edge");
    assert.ok(await edge.isVisible(), `the edge ${from} → k:ledger is drawn`);
    // Where it ends, in the drawing's own units: the middle of the sink's left side.
    const end = await edge.evaluate((path) => {
      const box = path.ownerSVGElement.querySelector('[data-node="k:ledger"] .node-box').getBBox();
      const at = path.getPointAtLength(path.getTotalLength());
      return [Math.round(at.x - box.x), Math.round(at.y - (box.y + box.height / 2))];
    });
    assert.deepEqual(end, [0, 0], `the edge from ${from} ends at the sink`);
  }

  // Past the functions they run in a lane between them: no point of an edge into the sink lies
  // inside a function's box, so none seems to come out of a function.
  const crossed = await svg.evaluate((root) => {
    const boxes = [...root.querySelectorAll(".node-function .node-box")].map((r) => r.getBBox());
    const inside = (p: { x: number; y: number }) =>
      boxes.some((b) => p.x > b.x && p.x < b.x + b.width && p.y > b.y && p.y < b.y + b.height);
    const through: string[] = [];
    for (const path of root.querySelectorAll("path.edge-out")) {
      for (let at = 0; at <= path.getTotalLength(); at += 2)
        if (inside(path.getPointAtLength(at))) {
          through.push(`${path.dataset.from} → ${path.dataset.to}`);
          break;
        }
    }
    return through;
  });
  assert.deepEqual(crossed, []);

  // Only the principal whose events must be signed is verified; only fulfil takes verified events only.
  const shop = svg.locator('[data-node="s:principal:shop"]');
  const clerk = svg.locator('[data-node="s:principal:clerk"]');
  assert.match((await shop.getAttribute("class")) ?? "", /\bnode-verified\b/);
  assert.equal(await shop.locator(".node-tag-text").textContent(), "✓ verified");
  assert.doesNotMatch((await clerk.getAttribute("class")) ?? "", /\bnode-verified\b/);
  assert.equal(await clerk.locator(".node-tag").count(), 0);
  const fulfil = svg.locator('[data-node="f:fulfil"]');
  const tally = svg.locator('[data-node="f:tally"]');
  assert.match((await fulfil.getAttribute("class")) ?? "", /\bnode-verified-only\b/);
  assert.equal(await fulfil.locator(".node-tag-text").textContent(), "verified only");
  assert.equal(await tally.locator(".node-tag").count(), 0);
  // The mark is drawn, not just named. Both principals are on a threat's path (outside input reaching
  // the sink), so both boxes are red; the verified tag stays. With only clerk's path shown, shop's own
  // border is the verified one, unlike a plain node's.
  const computed = (l: Locator, property: "fill" | "stroke") =>
    l.evaluate((e, p) => String(e.ownerDocument.defaultView?.getComputedStyle(e)[p]), property);
  assert.match((await shop.getAttribute("class")) ?? "", /\bnode-threat\b/);
  assert.ok(await shop.locator(".node-tag-box").isVisible());
  assert.notEqual(
    await computed(shop.locator(".node-tag-box"), "fill"),
    await computed(sink.locator(".node-tag-box"), "fill"),
    "the verified tag is coloured, unlike a sink's auth tag",
  );
  await page.locator(".threat", { hasText: "clerk" }).getByRole("button", { name: "Show path" }).click();
  await svg.locator('[data-node="s:principal:shop"]:not(.node-threat)').waitFor();
  assert.match((await clerk.getAttribute("class")) ?? "", /\bnode-threat\b/);
  assert.notEqual(
    await computed(shop.locator(".node-box"), "stroke"),
    await computed(tally.locator(".node-box"), "stroke"),
    "a verified source's border differs from a plain node's",
  );
  await page.getByRole("button", { name: "Show all" }).click();
  await svg.locator('[data-node="s:principal:shop"].node-threat').waitFor();

  assert.deepEqual(await page.locator(".graph-counts li").allTextContents(), [
    "2 sources",
    "2 event types",
    "2 functions",
    "1 sink",
  ]);
  assert.doesNotMatch(await page.content(), new RegExp(SINK_TOKEN), "the sink's query is never shown");
  assert.equal(await page.locator("[style]").count(), 0, "no inline style");
  await saveScreenshot(page, "graph-sinks");
  await assertClean();
});
