/**
 * Ingress parsing over real HTTP: numbers JSON cannot carry exactly are refused with their pointer
 * and the right fix, a parse error never echoes the body into logs or the audit log, and the
 * Content-Type decides the CloudEvents content mode (conflicting ce-* headers are a 400).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type Platform, startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs, type LogLine } from "./kit/log-capture.ts";
import { type RawReply, readReply } from "./kit/read-reply.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const CE = "application/cloudevents+json";
const BATCH = "application/cloudevents-batch+json";
const BIG = "12345678901234567890";

async function app(
  t: TestContext,
): Promise<{ platform: Platform; events: string; lines: LogLine[]; dir: string }> {
  const dir = tempApp(t, {
    "palisade.yaml": `name: parsing
events:
  order.created: { schema: schemas/order.json }
${testPrincipal(["order.created"])}functions: {}
`,
    // `ref` may be sent as a string; `n` may not.
    "schemas/order.json": {
      type: "object",
      properties: { n: { type: "integer" }, ref: { type: ["integer", "string"] } },
    },
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  return { platform, events: `${platform.url}/events`, lines: logs.lines, dir };
}

/** POSTs raw bytes with exactly these headers (node:http), as the test principal. */
function send(url: string, headers: Record<string, string>, body: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, ...headers } },
      (res) => resolve(readReply(res)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

const envelope = (id: string, data: string) =>
  `{"specversion":"1.0","id":"${id}","source":"/t","type":"order.created","data":${data}}`;

test("an integer beyond 2^53 is refused with its pointer in every content mode, and nothing is stored rounded", async (t) => {
  const { events, platform } = await app(t);
  const structured = await send(events, { "content-type": CE }, envelope("e1", `{"n":${BIG}}`));
  assert.equal(structured.status, 400);
  assert.equal(structured.body.error.code, "PAL_GATEWAY_UNSAFE_NUMBER");
  assert.equal(structured.body.error.details[0].pointer, "/data/n");
  assert.match(structured.body.error.details[0].message, /beyond ±9007199254740991/);
  assert.match(structured.body.error.details[0].message, /"order.created" accepts no string here/);

  const batch = await send(
    events,
    { "content-type": BATCH },
    `[${envelope("b0", '{"n":1}')},${envelope("b1", `{"n":-${BIG}}`)}]`,
  );
  assert.deepEqual(
    [batch.status, batch.body.error.details.map((d: { pointer: string }) => d.pointer)],
    [400, ["/1/data/n"]],
  );
  const binary = await send(
    events,
    {
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "x",
      "ce-source": "/t",
      "ce-type": "order.created",
    },
    `{"n":${BIG}}`,
  );
  assert.deepEqual([binary.status, binary.body.error.details[0].pointer], [400, "/n"]);
  const short = await send(
    events,
    { "content-type": "application/json" },
    `{"type":"order.created","data":${BIG}}`,
  );
  assert.deepEqual([short.status, short.body.error.details[0].pointer], [400, "/data"]);

  // Safe integers still pass, and nothing of the refused requests was stored.
  const ok = await send(events, { "content-type": CE }, envelope("ok", '{"n":9007199254740991}'));
  assert.equal(ok.status, 202);
  const stored = await platform.store.events.read(0, 10);
  assert.deepEqual(
    stored.map((s) => s.event.data),
    [{ n: 9007199254740991 }],
  );
});

test("when the schema allows a string there, the refusal says so, and the string form is accepted exactly", async (t) => {
  const { events, platform } = await app(t);
  const refused = await send(events, { "content-type": CE }, envelope("r1", `{"ref":${BIG}}`));
  assert.equal(refused.status, 400);
  assert.deepEqual(refused.body.error.details, [
    {
      pointer: "/data/ref",
      message:
        'is an integer beyond ±9007199254740991 (2^53−1), which a JSON number cannot carry exactly; send it as a string: the schema of "order.created" accepts a string here',
    },
  ]);
  const accepted = await send(events, { "content-type": CE }, envelope("r2", `{"ref":"${BIG}"}`));
  assert.equal(accepted.status, 202);
  const [stored] = await platform.store.events.read(0, 10);
  assert.deepEqual(stored?.event.data, { ref: BIG });
});

test("a parse error never puts the body's bytes in the reply, the logs or the audit log", async (t) => {
  const { events, lines, dir, platform } = await app(t);
  const marker = "MARKER-7f3a9c-body-bytes";
  const bodies = [
    `{"type":"order.created","data":{"n":${marker}}}`,
    `${marker}`,
    `{"type":"order.created","data":{"${marker}":1,}}`,
    `{"type":"order.created"}${marker}`,
    `{"specversion":"1.0","id":"m","source":"/t","type":"order.created","datacontenttype":"${marker}/x"}`,
  ];
  for (const body of bodies) {
    const ct = body.includes("specversion") ? CE : "application/json";
    const res = await send(events, { "content-type": ct }, body);
    assert.equal(res.status, 400, body);
    assert.ok(
      !JSON.stringify(res.body).includes(marker),
      `reply echoes the body: ${JSON.stringify(res.body)}`,
    );
  }
  assert.equal((await send(events, { "content-type": CE }, envelope("fine", '{"n":1}'))).status, 202);
  await platform.close();
  const refusals = lines.filter((l) => l.msg.startsWith("ingress refused"));
  assert.equal(refusals.length, bodies.length);
  assert.ok(refusals.some((l) => /line 1, column \d+/.test(l.msg)));
  assert.ok(!JSON.stringify(lines).includes("MARKER"), "a log line carries body bytes");
  const exported = spawnSync(process.execPath, [BIN, "audit", "export", "--since", "1h", "--app", dir], {
    encoding: "utf8",
  });
  assert.equal(exported.status, 0, exported.stderr);
  assert.match(exported.stdout, /ingress.rejected/);
  assert.ok(!exported.stdout.includes("MARKER"), "an audit record carries body bytes");
  const file = readFileSync(join(dir, ".palisade", "audit.db")).toString("latin1");
  assert.ok(!file.includes("MARKER"), "the audit file carries body bytes");
});

test("the Content-Type decides the mode: ce-* headers that copy a structured event pass, conflicting ones are 400", async (t) => {
  const { events, platform } = await app(t);
  const copies = { "ce-specversion": "1.0", "ce-id": "s1", "ce-type": "order.created", "ce-source": "%2Ft" };
  const copied = await send(events, { "content-type": CE, ...copies }, envelope("s1", '{"n":1}'));
  assert.equal(copied.status, 202, JSON.stringify(copied.body));

  const conflicting = await send(
    events,
    { "content-type": CE, "ce-type": "order.deleted" },
    envelope("s2", '{"n":1}'),
  );
  assert.equal(conflicting.status, 400);
  assert.equal(conflicting.body.error.code, "PAL_EVENT_INVALID");
  assert.deepEqual(
    conflicting.body.error.details.map((d: { pointer: string }) => d.pointer),
    ["/type"],
  );
  assert.match(conflicting.body.error.message, /header "ce-type"/);
  const extra = await send(events, { "content-type": CE, "ce-tenant": "a" }, envelope("s3", '{"n":1}'));
  assert.deepEqual([extra.status, extra.body.error.details[0].pointer], [400, "/tenant"]);
  const batch = await send(
    events,
    { "content-type": BATCH, "ce-id": "b0" },
    `[${envelope("b0", '{"n":1}')},${envelope("b1", '{"n":2}')}]`,
  );
  assert.deepEqual([batch.status, batch.body.error.details[0].pointer], [400, "/1/id"]);

  // Any other content type with ce-* headers is binary mode: without ce-specversion it is refused
  // naming that header, not read as the short form.
  const noVersion = await send(
    events,
    { "content-type": "application/json", "ce-type": "order.created" },
    '{"type":"order.created","data":{"n":1}}',
  );
  assert.equal(noVersion.status, 400);
  assert.match(noVersion.body.error.message, /header "ce-specversion" is required/);
  const stored = await platform.store.events.read(0, 10);
  assert.deepEqual(
    stored.map((s) => s.event.id),
    ["s1"],
  );
});
