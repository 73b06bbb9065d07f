/**
 * A function whose bundle never finishes loading (an endless top-level await) or throws while
 * loading is refused after a bounded wait; the platform starts and its other functions run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

test("functions that cannot load are refused; the platform starts and the others run", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: loads
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  hangs:
    handler: functions/hangs.ts
    on: [job.queued]
  throws:
    handler: functions/throws.ts
    on: [job.queued]
  fine:
    handler: functions/fine.ts
    on: [job.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/hangs.ts": "await new Promise(() => setInterval(() => {}, 1000));\nexport default () => {};",
    "functions/throws.ts": "throw new Error('broken at load');\nexport default () => {};",
    "functions/fine.ts": "export default (e, ctx) => ctx.log.info('fine ran');",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const refused = logs.lines.filter((l) => String(l.msg).startsWith("function refused"));
  assert.deepEqual(refused.map((l) => l.fn).sort(), ["hangs", "throws"]);
  assert.match(String(refused.find((l) => l.fn === "hangs")?.msg), /did not finish loading within/);
  assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);
  await logs.waitFor((l) => l.msg === "fine ran");
  await logs.waitFor(() => logs.lines.filter((l) => l.msg === "delivery failed").length === 2);
  const dead = await platform.store.queue.deadLetters(5);
  assert.deepEqual(dead.map((d) => [d.target, d.reason]).sort(), [
    ["hangs", "load-failed"],
    ["throws", "load-failed"],
  ]);
});
