/**
 * Capability-scope holds against a running platform: real sandboxes, real HTTP receivers on
 * loopback, the real CLI in a child process on the same files. A hold on one function's one
 * capability target (a novelty finding with response `hold`, or an operator's kill switch) stops
 * the calls to that target before anything is sent; the deliveries that made them wait, pending,
 * even when the function catches the refusal; the function's other work runs; release runs the held
 * deliveries once each, and discard dead-letters them. Nothing is lost or run twice.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { palisade, palisadeJson, sleep, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

/** A receiver on loopback that counts what each `n` sent it. */
async function receiver(t: TestContext): Promise<{ url: string; got: number[]; server: Server }> {
  const got: number[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      got.push(Number(body));
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server };
}

/**
 * The exporter posts `n` to the URL its event names; with `catch: true` it swallows a refusal and
 * returns normally, as code that treats every fetch error as "try later" would.
 */
const EXPORTER = `export default async (e, ctx) => {
  try {
    await ctx.fetch(e.data.url, { method: "POST", body: String(e.data.n) });
  } catch (err) {
    if (!e.data.catch) throw err;
    ctx.log.info("caught", { n: e.data.n, code: err.code });
  }
  ctx.log.info("exported", { n: e.data.n });
};`;

async function start(t: TestContext, detect: string) {
  const usual = await receiver(t);
  const other = await receiver(t);
  const dir = tempApp(t, {
    "palisade.yaml": `name: holds
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  exporter:
    handler: functions/exporter.ts
    on: [job.queued]
    egress: ["${usual.url}", "${other.url}"]
detect:
  novelty: ${detect}
`,
    "schemas/job.json": {
      type: "object",
      required: ["n", "url"],
      additionalProperties: false,
      properties: { n: { type: "integer" }, url: { type: "string" }, catch: { type: "boolean" } },
    },
    "functions/exporter.ts": EXPORTER,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const send = async (n: number, url: string, extra: object = {}): Promise<string> => {
    const res = await post(`${platform.url}/events`, { type: "job.queued", data: { n, url, ...extra } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.ids[0] as string;
  };
  const states = async (id: string) =>
    (await platform.store.queue.deliveries(id)).map((d) => `${d.state}:${d.attempts}`).join();
  const delivered = (id: string) =>
    waitUntil(`${id} delivered`, async () => (await states(id)) === "delivered:1");
  const exported = (n: number) =>
    logs.lines.filter((l) => l.fn === "exporter" && l.msg === "exported" && l.n === n).length;
  const list = async () =>
    (await palisadeJson(["quarantine", "list", "--app", dir])) as {
      scope: { kind: string; name: string };
      held: { count: number; eventIds: string[] } | null;
      finding: { detector: string; response: string } | null;
    }[];
  return { dir, logs, platform, usual, other, send, states, delivered, exported, list };
}

test("novelty with response hold: the first call to a new target is never sent; only that target waits, and release runs it once", async (t) => {
  const app = await start(t, "{ learn: { invocations: 2 }, response: hold }");
  const { usual, other, send, states, delivered, logs } = app;
  for (const n of [1, 2]) await delivered(await send(n, `${usual.url}/in`));
  await logs.waitFor((l) => /novelty learning period ended/.test(l.msg));

  // A target granted but never used while learning: held before a byte leaves, even when the
  // function catches the refusal and returns normally.
  const exfil = await send(3, `${other.url}/drop`, { catch: true });
  const scope = `exporter/egress:${other.url}`;
  const finding = await logs.waitFor((l) => l.detector === "novelty");
  assert.deepEqual([finding.capability, finding.response], [scope, "hold"]);
  const caught = await logs.waitFor((l) => l.msg === "caught" && l.n === 3);
  assert.equal(caught.code, "PAL_RUNTIME_HELD");
  await waitUntil("the function to finish", () => app.exported(3) === 1);
  await sleep(300); // a (wrong) settle as delivered would show by now
  assert.equal(await states(exfil), "pending:0", "ran on, but not taken as delivered");
  assert.deepEqual(other.got, [], "nothing reached the new target");

  // The rest of the function's work runs while the target is held.
  const ordinary = await send(4, `${usual.url}/in`);
  await delivered(ordinary);
  assert.deepEqual(usual.got, [1, 2, 4]);
  await sleep(300); // any (wrong) second attempt of the held delivery would show by now
  assert.equal(await states(exfil), "pending:0");

  const [entry] = await app.list();
  assert.deepEqual(entry?.scope, { kind: "capability", name: scope });
  assert.deepEqual([entry?.finding?.detector, entry?.finding?.response], ["novelty", "hold"]);
  assert.deepEqual(entry?.held, { count: 1, more: false, eventIds: [exfil] });

  const released = await palisade(["quarantine", "release", `capability:${scope}`, "--app", app.dir]);
  assert.equal(released.status, 0, released.stderr);
  await delivered(exfil);
  assert.deepEqual(other.got, [3], "sent once, after the release");
  assert.deepEqual(await app.list(), []);

  // Learned now: a later call to it is no finding and is not held.
  await delivered(await send(5, `${other.url}/drop`));
  assert.deepEqual(other.got, [3, 5]);
  assert.equal(logs.lines.filter((l) => l.detector === "novelty").length, 1);
});

test("an operator holds one capability target: its deliveries wait, discard dead-letters them, and the target stays held", async (t) => {
  const app = await start(t, "{ response: alert }");
  const { dir, usual, other, send, states, delivered, logs } = app;
  await delivered(await send(1, `${usual.url}/in`));
  const scope = `exporter/egress:${usual.url}`;

  // Written as a person would type it: the CLI names it as the host does.
  const held = await palisade([
    "quarantine",
    "hold",
    `capability:exporter/egress:${usual.url}/`,
    "--app",
    dir,
  ]);
  assert.equal(held.status, 0, held.stderr);
  assert.match(held.stdout, /calls to it are not made and their deliveries wait/);
  await logs.waitFor((l) => l.capability === scope && /capability target held/.test(l.msg), 15_000);

  const waiting = await send(2, `${usual.url}/in`);
  await waitUntil("the delivery given back", async () => (await states(waiting)) === "pending:0");
  await delivered(await send(3, `${other.url}/in`));
  assert.deepEqual([usual.got, other.got], [[1], [3]]);
  const [entry] = await app.list();
  assert.deepEqual([entry?.scope.kind, entry?.held?.eventIds], ["capability", [waiting]]);
  assert.equal(entry?.finding?.detector, "operator");

  const discarded = (await palisadeJson(["quarantine", "discard", `capability:${scope}`, "--app", dir])) as {
    discarded: number;
  };
  assert.equal(discarded.discarded, 1);
  await waitUntil("the held delivery dead-lettered", async () =>
    (await states(waiting)).startsWith("failed:"),
  );
  const dlq = (await palisadeJson(["dlq", "list", "--app", dir])) as { eventId: string; reason: string }[];
  assert.deepEqual(
    dlq.map((d) => [d.eventId, d.reason]),
    [[waiting, "quarantined"]],
  );
  assert.deepEqual(usual.got, [1], "never sent");

  // Still held: new calls wait; release lets them run.
  const later = await send(4, `${usual.url}/in`);
  await waitUntil("the new delivery given back", async () => (await states(later)) === "pending:0");
  const released = await palisade(["quarantine", "release", `capability:${scope}`, "--app", dir]);
  assert.equal(released.status, 0, released.stderr);
  await delivered(later);
  assert.deepEqual(usual.got, [1, 4]);

  // Bad scopes are refused with what to write instead.
  const bad = await palisade(["quarantine", "hold", "capability:exporter/fly:x", "--app", dir]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /<function>\/<capability>:<target>/);
  const nobody = await palisade(["quarantine", "hold", "capability:nobody/secret:X", "--app", dir]);
  assert.match(nobody.stderr, /No function named "nobody"/);
});
