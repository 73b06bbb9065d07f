import assert from "node:assert/strict";
import { test } from "node:test";
import { openAppStore } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

test("an event accepted with 202 is delivered after the server is killed with SIGKILL and restarted", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: crash
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    limits: { timeoutMs: 5000 }
`,
    "schemas/job.json": NUMBER_SCHEMA,
    // Slow enough that the kill below always lands before the first attempt can finish.
    "functions/work.ts": `export default async (e, ctx) => { await new Promise((r) => setTimeout(r, 1500)); ctx.log.info("worked", { n: e.data.n }); };`,
  });

  setSecret(dir, "TEST_KEY", TEST_KEY);
  const first = await startDev(dir);
  t.after(() => stop(first.child, "SIGKILL"));
  const res = await post(`${first.url}/events`, { type: "job.queued", data: { n: 7 } });
  assert.equal(res.status, 202);
  const [id] = res.body.ids as string[];
  await stop(first.child, "SIGKILL");

  // Nothing ran to completion before the kill, and the accepted event is on disk.
  assert.ok(!first.lines.some((l) => l.msg === "worked"));
  const log = await openAppStore(loadApp(dir));
  const stored = await log.events.read(0, 10);
  assert.deepEqual(
    stored.map((s) => s.event.id),
    [id],
  );
  assert.notEqual((await log.queue.deliveries(id ?? ""))[0]?.state, "delivered");
  await log.close();

  const second = await startDev(dir);
  t.after(() => stop(second.child, "SIGKILL"));
  const worked = await second.waitFor((l) => l.msg === "worked");
  assert.equal(worked.eventId, id);
  assert.equal(worked.n, 7);
  await second.waitFor((l) => l.msg === "delivered" && l.eventId === id);
  await stop(second.child);
  assert.equal(second.child.exitCode, 0);

  const after = await openAppStore(loadApp(dir));
  t.after(() => after.close());
  assert.deepEqual(await after.queue.deliveries(id ?? ""), [
    { target: "work", state: "delivered", attempts: 1, lastError: null },
  ]);
});
