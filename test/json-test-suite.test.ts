import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { corpus } from "./kit/corpus.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

// JSONTestSuite (nst/JSONTestSuite): y_ must parse, n_ must be rejected, i_ is ours to decide.
const JTS = corpus("jsontestsuite");
const SUITE = `${JTS.dir}test_parsing`;

test("every JSONTestSuite file sent as a body: n_ gets 400, y_ parses, nothing gets 5xx or reaches a function", {
  skip: JTS.skip,
}, async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: jts\nevents:\n  any.thing: { schema: schemas/any.json }\n${testPrincipal(["any.thing"])}functions:\n  sink:\n    handler: functions/sink.ts\n    on: [any.thing]\n`,
    "schemas/any.json": { type: "object", required: ["type"], properties: { type: { const: "any.thing" } } },
    "functions/sink.ts": 'export default (e, ctx) => { ctx.log.info("reached"); };',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const files = readdirSync(SUITE).filter((f) => f.endsWith(".json"));
  assert.ok(files.length > 300, `expected the suite at ${SUITE}`);
  const codes = new Map<string, number>();
  for (const file of files) {
    const res = await fetch(`${platform.url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
      body: readFileSync(join(SUITE, file)),
    });
    const body = (await res.json()) as { error?: { code: string } };
    codes.set(file, res.status);
    assert.ok(res.status < 500, `${file}: ${res.status}`);
    if (file.startsWith("n_")) assert.equal(res.status, 400, `${file} must be rejected`);
    if (file.startsWith("y_") && res.status === 400) {
      // Parsed fine; refused by the envelope or schema check, or by the depth limit, never as bad JSON.
      assert.notEqual(body.error?.code, "PAL_GATEWAY_BAD_JSON", `${file} is valid JSON`);
      assert.notEqual(body.error?.code, "PAL_GATEWAY_BAD_ENCODING", `${file} is valid UTF-8`);
    }
  }
  assert.ok(
    [...codes.values()].every((s) => s === 400),
    "no suite document is a valid event for this app",
  );
  assert.equal((await platform.store.events.read(0, 10)).length, 0);
  assert.ok(!logs.lines.some((l) => l.msg === "reached"));
  assert.equal((await fetch(`${platform.url}/healthz`)).status, 200);
});
