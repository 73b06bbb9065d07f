import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { type TestContext, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { type Platform, startPlatform } from "../src/main.ts";
import { corpus } from "./kit/corpus.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { readReply } from "./kit/read-reply.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const CONFORMANCE_CORPUS = corpus("cloudevents-conformance");
const CONFORMANCE = CONFORMANCE_CORPUS.dir;

async function app(t: TestContext): Promise<{ platform: Platform; events: string }> {
  const dir = tempApp(t, {
    "palisade.yaml": `name: binding
events:
  com.example.someevent: { schema: schemas/any.json }
  io.cloudevents.minimum: { schema: schemas/any.json }
  order.created: { schema: schemas/order.json }
${testPrincipal(["com.example.someevent", "io.cloudevents.minimum", "order.created"])}functions: {}
`,
    "schemas/any.json": {},
    "schemas/order.json": { type: "object", required: ["n"], properties: { n: { type: "integer" } } },
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  return { platform, events: `${platform.url}/events` };
}

/** POSTs with raw headers (node:http, so header bytes are sent exactly as given). */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: string | Buffer,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const auth = { authorization: `Bearer ${TEST_KEY}` };
    const req = request(url, { method: "POST", headers: { ...auth, ...headers } }, (res) =>
      resolve(readReply(res)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

const ATTRS = {
  specversion: "1.0",
  type: "com.example.someevent",
  time: "2018-04-05T03:56:24Z",
  id: "1234-1234-1234",
  source: "/mycontext/subcontext",
};

test("binary mode: ce-* headers are the attributes and the body is the data", async (t) => {
  const { events, platform } = await app(t);
  for (const contentType of ["application/json", "application/json; charset=utf-8"]) {
    const id = `bin-${contentType.length}`;
    const headers = {
      ...Object.fromEntries(Object.entries({ ...ATTRS, id }).map(([k, v]) => [`ce-${k}`, v])),
      "content-type": contentType,
    };
    const res = await rawPost(events, headers, '{\n    "message": "Hello World!"\n}');
    assert.deepEqual({ status: res.status, body: res.body }, { status: 202, body: { ids: [id] } });
  }
  const stored = (await platform.store.events.read(0, 10)).map((s) => s.event);
  assert.deepEqual(
    stored.map((e) => [e.datacontenttype, e.data, e.time, e.source]),
    [
      ["application/json", { message: "Hello World!" }, ATTRS.time, ATTRS.source],
      ["application/json; charset=utf-8", { message: "Hello World!" }, ATTRS.time, ATTRS.source],
    ],
  );
});

test("binary mode: percent-encoded header values are decoded as UTF-8; invalid encodings are 400", async (t) => {
  const { events, platform } = await app(t);
  const base = {
    "ce-specversion": "1.0",
    "ce-type": "com.example.someevent",
    "ce-source": "/s",
    "content-type": "text/plain; charset=utf-8",
  };
  const ok = await rawPost(
    events,
    { ...base, "ce-id": "pct", "ce-subject": "Hello%20%F0%9F%8C%8E%21", "ce-myext": "a%25b" },
    "Hello, 🌎!",
  );
  assert.equal(ok.status, 202);
  const [stored] = await platform.store.events.read(0, 1);
  assert.equal(stored?.event.subject, "Hello 🌎!");
  assert.deepEqual(stored?.event.extensions, { myext: "a%b" });
  assert.equal(stored?.event.data, "Hello, 🌎!");

  const badUtf8 = await rawPost(events, { ...base, "ce-id": "x1", "ce-subject": "%C3%28" }, "x");
  assert.equal(badUtf8.status, 400);
  assert.deepEqual(badUtf8.body.error.details, [
    { pointer: "/subject", message: 'header "ce-subject" is not valid percent-encoded UTF-8' },
  ]);
  const badEscape = await rawPost(events, { ...base, "ce-id": "x2", "ce-subject": "100%" }, "x");
  assert.equal(badEscape.status, 400);
  const rawBytes = await rawPost(
    events,
    { ...base, "ce-id": "x3", "ce-subject": Buffer.from([0xc3, 0xa9]).toString("latin1") },
    "x",
  );
  assert.equal(rawBytes.status, 400);
  const badBody = await rawPost(events, { ...base, "ce-id": "x4" }, Buffer.from([0x48, 0xff]));
  assert.equal(badBody.status, 400);
  const binaryData = await rawPost(
    events,
    { ...base, "ce-id": "x5", "content-type": "application/octet-stream" },
    Buffer.from([1, 2]),
  );
  assert.equal(binaryData.status, 415);
  assert.equal((await platform.store.events.read(0, 10)).length, 1);
});

test("structured mode, missing attributes, wrong specversion and data with data_base64", async (t) => {
  const { events, platform } = await app(t);
  const ce = "application/cloudevents+json";
  assert.equal(
    (
      await post(
        events,
        { ...ATTRS, datacontenttype: "application/json", data: { message: "Hello World!" } },
        ce,
      )
    ).status,
    202,
  );
  const missing = await post(events, { specversion: "1.0", type: "com.example.someevent" }, ce);
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.body.error.details.map((d: { pointer: string }) => d.pointer).sort(), [
    "/id",
    "/source",
  ]);
  const wrongVersion = await post(events, { ...ATTRS, id: "v03", specversion: "0.3" }, ce);
  assert.deepEqual(wrongVersion.body.error.details, [
    { pointer: "/specversion", message: "must be equal to constant" },
  ]);
  const both = await post(events, { ...ATTRS, id: "b64", data: {}, data_base64: "AAEC" }, ce);
  assert.equal(both.status, 400);
  assert.deepEqual(both.body.error.details, [
    { pointer: "/data_base64", message: "must not be set together with data (spec §3.1.1)" },
  ]);
  const badExtension = await post(events, { ...ATTRS, id: "ext", "Bad-Name": 1, nested: { a: 1 } }, ce);
  assert.deepEqual(
    badExtension.body.error.details.map((d: { pointer: string }) => d.pointer),
    ["/Bad-Name", "/nested"],
  );
  assert.equal((await platform.store.events.read(0, 10)).length, 1);
});

test("batch mode is all-or-none: one invalid event rejects the batch with its index in the pointer", async (t) => {
  const { events, platform } = await app(t);
  const batch = "application/cloudevents-batch+json";
  const good = (i: number) => ({
    specversion: "1.0",
    id: `b${i}`,
    source: "/batch",
    type: "order.created",
    data: { n: i },
  });
  const bad = await post(events, [good(0), good(1), { ...good(2), data: { n: "two" } }], batch);
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error.details, [{ pointer: "/2/data/n", message: "must be integer" }]);
  const badEnvelope = await post(events, [good(0), { ...good(1), specversion: undefined }], batch);
  assert.deepEqual(badEnvelope.body.error.details, [{ pointer: "/1/specversion", message: "is required" }]);
  assert.equal((await platform.store.events.read(0, 10)).length, 0);

  const commitsBefore = platform.store.stats?.commits ?? 0;
  const ok = await post(events, [0, 1, 2, 3, 4].map(good), batch);
  assert.deepEqual(ok, { ...ok, status: 202, body: { ids: ["b0", "b1", "b2", "b3", "b4"] } });
  assert.equal((platform.store.stats?.commits ?? 0) - commitsBefore, 1, "one durable commit for the batch");
  assert.equal((await post(events, {}, batch)).status, 400);
  assert.deepEqual((await post(events, [], batch)).body, { ids: [] });
});

test("the same source and id sent twice is accepted both times and stored once", async (t) => {
  const { events, platform } = await app(t);
  const event = { specversion: "1.0", id: "dup", source: "/d", type: "order.created", data: { n: 1 } };
  const first = await post(events, event, "application/cloudevents+json");
  const second = await post(events, { ...event, data: { n: 2 } }, "application/cloudevents+json");
  assert.deepEqual([first.status, second.status], [202, 202]);
  assert.deepEqual(second.body, { ids: ["dup"] });
  const stored = await platform.store.events.read(0, 10);
  assert.deepEqual(
    stored.map((s) => s.event.data),
    [{ n: 1 }],
  );
});

interface ConformanceEvent {
  Mode?: string;
  ContextAttributes: Record<string, string> & { Extensions?: Record<string, string> };
  Data?: string;
}

function conformanceEvents(file: string): ConformanceEvent[] {
  // failsafe keeps `specversion: 1.0` a string (shared/testdata/README.md).
  return parseAllDocuments(readFileSync(`${CONFORMANCE}${file}`, "utf8"), { schema: "failsafe" }).map(
    (doc) => doc.toJS() as ConformanceEvent,
  );
}

// HTTP binding §3.1.3.2: printable ASCII except space, double quote and percent travels as is.
const encodeHeader = (v: string) =>
  [...Buffer.from(v, "utf8")]
    .map((b) =>
      b > 0x20 && b < 0x7f && b !== 0x22 && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0")}`,
    )
    .join("");

test("the CloudEvents conformance suite's v1.0 events are accepted with attributes, extensions and data intact", {
  skip: CONFORMANCE_CORPUS.skip,
}, async (t) => {
  const { events, platform } = await app(t);
  const cases = [...conformanceEvents("yaml_v1.yaml"), ...conformanceEvents("yaml_v1.0_v1_minimum.yaml")];
  assert.ok(cases.length >= 8);
  const expected: {
    id: string;
    source: string;
    extensions: Record<string, string> | undefined;
    data: unknown;
    mode: string;
  }[] = [];
  for (const [i, c] of cases.entries()) {
    const { Extensions, ...attrs } = c.ContextAttributes;
    const id = `${attrs.id}-${i}`; // the suite reuses ids; keep each case distinct
    const contentType = attrs.datacontenttype ?? "application/json";
    const isJson = contentType.startsWith("application/json");
    const data = c.Data === undefined ? undefined : isJson ? JSON.parse(c.Data) : c.Data;
    const mode = c.Mode ?? "structured";
    let res: { status: number; body: any };
    if (mode === "binary") {
      const headers: Record<string, string> = { "content-type": contentType };
      for (const [k, v] of Object.entries({ ...attrs, id, ...Extensions }))
        if (k !== "datacontenttype") headers[`ce-${k}`] = encodeHeader(v);
      res = await rawPost(events, headers, c.Data ?? "");
    } else {
      res = await post(
        events,
        { ...attrs, id, ...Extensions, ...(data === undefined ? {} : { data }) },
        "application/cloudevents+json",
      );
    }
    assert.equal(res.status, 202, `${mode} case ${i}: ${JSON.stringify(res.body)}`);
    expected.push({ id, source: attrs.source ?? "", extensions: Extensions, data: data ?? null, mode });
  }
  const stored = (await platform.store.events.read(0, 100)).map((s) => s.event);
  for (const e of expected) {
    const got = stored.find((s) => s.id === e.id);
    assert.ok(got, e.id);
    assert.equal(got.source, e.source);
    assert.deepEqual(got.extensions, e.extensions, `${e.id} extensions`);
    assert.deepEqual(got.data, e.data, `${e.id} data`);
  }
  assert.ok(expected.some((e) => e.mode === "binary") && expected.some((e) => e.mode === "structured"));
});

test("CloudEvents 0.3 events from the conformance suite are refused with the specversion pointer", {
  skip: CONFORMANCE_CORPUS.skip,
}, async (t) => {
  const { events } = await app(t);
  for (const c of conformanceEvents("yaml_v03.yaml")) {
    const { Extensions, ...attrs } = c.ContextAttributes;
    const res = await post(events, { ...attrs, ...Extensions, data: {} }, "application/cloudevents+json");
    assert.equal(res.status, 400);
    assert.ok(res.body.error.details.some((d: { pointer: string }) => d.pointer === "/specversion"));
  }
});
