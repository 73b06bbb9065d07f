import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const V1 = { type: "object", required: ["n"], properties: { n: { type: "number" } } };

function app(t: import("node:test").TestContext): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: versions\nevents:\n  order.created: { schema: schemas/order.json }\n${testPrincipal(["order.created"])}functions: {}\n`,
    "schemas/order.json": V1,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}

async function sendOne(dir: string, allowBreaking = false) {
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0, allowBreaking });
  try {
    const res = await post(`${platform.url}/events`, { type: "order.created", data: { n: 1, note: "x" } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const stored = await platform.store.events.read(0, 100);
    return stored.at(-1)?.event.schemaversion;
  } finally {
    await platform.close();
  }
}

test("each stored event records the schema version it was validated against; compatible changes get a new version", async (t) => {
  const dir = app(t);
  assert.equal(await sendOne(dir), 1);
  // Reformatting is not a change.
  writeFileSync(join(dir, "schemas/order.json"), JSON.stringify(V1, null, 8));
  assert.equal(await sendOne(dir), 1);
  // Widening a field is compatible: version 2. (Constraining the so far free "note" would not be.)
  writeFileSync(
    join(dir, "schemas/order.json"),
    JSON.stringify({ ...V1, properties: { n: { type: ["number", "string"] } } }),
  );
  assert.equal(await sendOne(dir), 2);
});

test("a breaking schema change is refused with the reasons, unless allowed explicitly", async (t) => {
  const dir = app(t);
  assert.equal(await sendOne(dir), 1);
  writeFileSync(
    join(dir, "schemas/order.json"),
    JSON.stringify({
      ...V1,
      required: ["n", "email"],
      properties: { n: { type: "integer" }, email: { type: "string" } },
    }),
  );
  await assert.rejects(
    startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }),
    (err: { code: string; message: string }) => {
      assert.equal(err.code, "PAL_SCHEMA_BREAKING");
      assert.match(err.message, /"order\.created" v1 → v2: .*\/email: newly required/);
      assert.match(err.message, /\/n: type narrowed from number to integer/);
      assert.match(err.message, /--allow-breaking/);
      return true;
    },
  );
  const breaking = JSON.parse(readFileSync(join(dir, "schemas/order.json"), "utf8"));
  writeFileSync(join(dir, "schemas/order.json"), JSON.stringify({ ...breaking, required: ["n"] }));
  assert.equal(await sendOne(dir, true), 2);
});

test("a sender cannot claim a schema version", async (t) => {
  const dir = app(t);
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  const res = await post(
    `${platform.url}/events`,
    { specversion: "1.0", id: "1", source: "/s", type: "order.created", schemaversion: 9, data: { n: 1 } },
    "application/cloudevents+json",
  );
  assert.equal(res.status, 400);
  assert.deepEqual(res.body.error.details, [
    { pointer: "/schemaversion", message: "is set by the platform; remove it" },
  ]);
});
