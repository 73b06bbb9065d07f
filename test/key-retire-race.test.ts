/**
 * `palisade keys rotate` immediately followed by `palisade keys retire` while a platform is taking
 * events: the platform may still be sealing with the old key for a moment after the rotation (it
 * re-reads the key ring once a second). Retire must not delete a key a record was just sealed with:
 * every accepted event stays readable, and the platform keeps accepting and delivering.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runKeysRetire, runKeysRotate } from "../src/cli/commands/keys.ts";
import { openAppStore, startPlatform } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

test("keys rotate then retire at once while a platform seals events: no accepted event becomes unreadable", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: race
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"], "{ perSecond: 1000, burst: 1000 }")}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/work.ts": "export default (e, ctx) => ctx.log.info('worked', { n: e.data.n });",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const accepted: string[] = [];
  let n = 0;
  const send = async () => {
    const reply = await post(`${platform.url}/events`, { type: "job.queued", data: { n: n++ } });
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
    accepted.push(...(reply.body.ids as string[]));
  };
  await send();

  assert.equal(await runKeysRotate({ app: dir }), 0);
  // Retire right away, with events arriving all the while (and right after it returns).
  let retired = false;
  for (let attempt = 0; attempt < 5 && !retired; attempt++) {
    let done = false;
    const retiring = runKeysRetire("1", { app: dir }).finally(() => {
      done = true;
    });
    while (!done) await send();
    retired = (await retiring) === 0;
    for (let i = 0; i < 20; i++) await send();
    // Records sealed with key 1 after the rotation's pass were found: move them, then retry.
    if (!retired) assert.equal(await runKeysRotate({ app: dir, resume: true }), 0);
  }
  assert.ok(retired, "key 1 was retired");

  // The platform kept working: a new event is accepted and delivered.
  await send();
  const last = accepted.at(-1);
  await logs.waitFor((l) => l.eventId === last && l.msg === "delivered", 30000);
  await platform.close();

  // Every accepted event opens with the key ring that no longer has key 1.
  const log = await openAppStore(loadApp(dir));
  t.after(() => log.close());
  const stored = await log.events.read(0, accepted.length + 10);
  assert.deepEqual(stored.map((s) => s.event.id).sort(), [...accepted].sort());
});
