import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

test("a function that emits its own trigger stops at the hop limit; that delivery is dead-lettered as hop-limit", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: loop
events:
  loop.tick: { schema: schemas/n.json }
${testPrincipal(["loop.tick"])}functions:
  echo:
    handler: functions/echo.ts
    on: [loop.tick]
    emit: [loop.tick]
    retry: { attempts: 5, initialDelayMs: 10 }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/echo.ts":
      "export default async (e, ctx) => { await ctx.emit('loop.tick', { n: e.data.n + 1 }); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  assert.equal((await post(`${platform.url}/events`, { type: "loop.tick", data: { n: 0 } })).status, 202);

  await logs.waitFor((l) => l.msg === "delivery failed");
  const events = (await platform.store.events.read(0, 100)).map((s) => s.event);
  assert.equal(events.length, 17, "hops 0 to 16");
  assert.deepEqual(
    events.map((e) => e.hop),
    Array.from({ length: 17 }, (_, i) => i),
  );
  const [dead] = await platform.store.queue.deadLetters(10);
  assert.equal(dead?.reason, "hop-limit");
  assert.equal(dead?.attempts, 1, "not retried: no retry can cure a hop-limit");
  assert.equal(dead?.eventId, events[16]?.id);
  assert.match(dead?.error ?? "", /deeper than 16 hops/);

  const listed = spawnSync(process.execPath, [BIN, "dlq", "list", "--app", dir, "--json"], {
    encoding: "utf8",
  });
  assert.equal(listed.status, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as { reason: string; target: string }[];
  assert.deepEqual(
    rows.map((r) => [r.target, r.reason]),
    [["echo", "hop-limit"]],
  );
  const text = spawnSync(process.execPath, [BIN, "dlq", "list", "--app", dir], { encoding: "utf8" });
  assert.match(text.stdout, /echo\s+loop\.tick\s+.*hop-limit/);
});

test("the hop limit is configurable", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: loop3
hopLimit: 3
events:
  loop.tick: { schema: schemas/n.json }
${testPrincipal(["loop.tick"])}functions:
  echo:
    handler: functions/echo.ts
    on: [loop.tick]
    emit: [loop.tick]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/echo.ts":
      "export default async (e, ctx) => { await ctx.emit('loop.tick', { n: e.data.n + 1 }); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  await post(`${platform.url}/events`, { type: "loop.tick", data: { n: 0 } });
  await logs.waitFor((l) => l.msg === "delivery failed");
  assert.equal((await platform.store.events.read(0, 100)).length, 4, "hops 0 to 3");
  assert.equal((await platform.store.queue.deadLetters(1))[0]?.reason, "hop-limit");
});
