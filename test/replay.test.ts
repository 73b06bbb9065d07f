import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const palisade = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

test("replay re-delivers archived events with their ids and trace, marked as replays, and refuses what the app no longer accepts", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: replay
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  audit:
    handler: functions/audit.ts
    on: [job.*]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/audit.ts":
      'export default (e, ctx) => ctx.log.info("seen", { n: e.data.n, trace: e.traceparent, replayof: e.replayof, by: e.replayedby, key: ctx.idempotencyKey });',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const ids: string[] = [];
  for (const n of [0, 1, 2])
    ids.push((await post(`${dev.url}/events`, { type: "job.queued", data: { n } })).body.ids[0]);
  await dev.waitFor(() => dev.lines.filter((l) => l.msg === "seen").length === 3);
  const firstRun = dev.lines.filter((l) => l.msg === "seen");

  // The app changes: audit no longer wants n = 2.
  const manifest = join(dir, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace(
      "on: [job.*]",
      'on: [job.*]\n    filter: { data: { n: [{ numeric: ["<", 2] }] } }',
    ),
  );
  await dev.waitFor(() => dev.lines.filter((l) => l.msg === "palisade is running").length === 2);

  const bad = palisade(["replay", "--since", "yesterday-ish", "--app", dir]);
  assert.equal(bad.status, 2);
  const res = palisade(["replay", "--since", "1h", "--type", "job.*", "--app", dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /replayed 2 deliveries of 3 events; 1 refused/);
  assert.doesNotMatch(res.stderr, /replaying/, "no progress line on a piped stderr");
  assert.match(
    res.stderr,
    new RegExp(`refused ${ids[2]} → audit: function "audit"'s filter no longer matches`),
  );

  await dev.waitFor(() => dev.lines.filter((l) => l.msg === "seen" && l.replayof !== undefined).length === 2);
  const replays = dev.lines.filter((l) => l.msg === "seen" && l.replayof !== undefined);
  for (const r of replays) {
    const original = firstRun.find((o) => o.eventId === r.eventId);
    assert.ok(original, "same event id as the original");
    assert.equal(r.replayof, r.eventId);
    // The replay runs in the original trace (a new invocation span under the event's traceparent).
    assert.equal(String(r.trace).split("-")[1], String(original.trace).split("-")[1], "original trace");
    assert.equal(r.key, original.key, "same idempotency key, so idempotent handlers stay correct");
    assert.match(String(r.by), /^cli:/);
  }
  const dead = JSON.parse(palisade(["dlq", "list", "--app", dir, "--json"]).stdout) as {
    eventId: string;
    reason: string;
  }[];
  assert.deepEqual(
    dead.map((d) => [d.eventId, d.reason]),
    [[ids[2], "replay-refused"]],
  );
});
