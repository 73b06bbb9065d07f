import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const palisade = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

test("dlq replay requeues a dead letter once the cause is fixed, and refuses one the current app would not deliver", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: dlq
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    retry: { attempts: 1 }
`,
    "schemas/job.json": { type: "object", required: ["n"], properties: { n: { type: "number" } } },
    "functions/work.ts":
      'export default (e, ctx) => { if (e.data.n < 0) throw new Error("negative"); ctx.log.info("worked", { n: e.data.n }); };',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const a = (await post(`${dev.url}/events`, { type: "job.queued", data: { n: -1 } })).body.ids[0] as string;
  const b = (await post(`${dev.url}/events`, { type: "job.queued", data: { n: -2 } })).body.ids[0] as string;
  await dev.waitFor(() => dev.lines.filter((l) => l.msg === "delivery failed").length === 2);
  assert.equal(JSON.parse(palisade(["dlq", "list", "--app", dir, "--json"]).stdout).length, 2);

  // Fix the handler and, in the same change, filter b's kind of event out of "work" (dev reloads).
  const handler = join(dir, "functions/work.ts");
  writeFileSync(handler, readFileSync(handler, "utf8").replace("e.data.n < 0", "false"));
  const manifest = join(dir, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace(
      "on: [job.queued]",
      'on: [job.queued]\n    filter: { data: { n: [{ "anything-but": -2 }] } }',
    ),
  );
  await dev.waitFor(() => dev.lines.filter((l) => l.msg === "palisade is running").length === 2);

  const replay = palisade(["dlq", "replay", "--all", "--app", dir]);
  assert.equal(replay.status, 1, "one of two was refused");
  assert.match(replay.stdout, /requeued 1 of 2/);
  assert.match(replay.stderr, new RegExp(`refused ${b} → work: function "work"'s filter no longer matches`));
  const worked = await dev.waitFor((l) => l.msg === "worked");
  assert.equal(worked.eventId, a);
  const rows = JSON.parse(palisade(["dlq", "list", "--app", dir, "--json"]).stdout) as {
    eventId: string;
    reason: string;
  }[];
  assert.deepEqual(
    rows.map((r) => [r.eventId, r.reason]),
    [[b, "replay-refused"]],
  );
  assert.equal(palisade(["dlq", "replay", "--app", dir]).status, 2, "an id or --all is required");
});
