import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

test("past its daily budget a function's deliveries are held, not dropped, and budget-exceeded is emitted once", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: budget
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    limits: { dailyInvocations: 2 }
  guard:
    handler: functions/guard.ts
    on: [palisade.security.*]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/work.ts": 'export default (e, ctx) => ctx.log.info("worked", { n: e.data.n });',
    "functions/guard.ts":
      'export default (e, ctx) => ctx.log.info("budget alert", { target: e.data.function, limit: e.data.limit, by: e.principal });',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const ids: string[] = [];
  for (let n = 0; n < 4; n++)
    ids.push((await post(`${platform.url}/events`, { type: "job.queued", data: { n } })).body.ids[0]);

  const alert = await logs.waitFor((l) => l.msg === "budget alert");
  assert.deepEqual([alert.fn, alert.target, alert.limit, alert.by], ["guard", "work", 2, "palisade"]);
  await logs.waitFor(() => logs.lines.filter((l) => l.fn === "work" && l.msg === "delivered").length === 2);
  await new Promise((r) => setTimeout(r, 200)); // let any (wrong) extra work show up before counting
  assert.equal(logs.lines.filter((l) => l.msg === "worked").length, 2);
  const states = (await Promise.all(ids.map((id) => platform.store.queue.deliveries(id)))).map(
    (s) => s[0]?.state,
  );
  assert.deepEqual(states.sort(), ["delivered", "delivered", "pending", "pending"], "held, not dropped");
  assert.equal(logs.lines.filter((l) => l.msg === "budget alert").length, 1);
});
