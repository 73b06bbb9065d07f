/**
 * The operator commands with `--url`: the same answers through a running gateway's admin API as
 * from the app's files, refused by role, and never sending a key in the clear off loopback.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { deadLetterApp, KEYS, setAdminKeys } from "./kit/admin.ts";
import { palisade, palisadeJson, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const OPS = KEYS.OPS_KEY;
const EVE = KEYS.EVE_KEY;

test("dlq, replay, audit, traces, quarantine, keys and secrets through --url print what the local commands print", async (t) => {
  const dir = tempApp(t, deadLetterApp("remote"));
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKeys(dir);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const url = ["--url", platform.url];
  const ops = { PALISADE_ADMIN_KEY: OPS };
  const eve = { PALISADE_ADMIN_KEY: EVE };

  const until = Date.now() + 1500;
  const id = (await post(`${platform.url}/events`, { type: "job.queued", data: { n: until } })).body.ids[0];
  await waitUntil(
    "the dead letter",
    async () => ((await palisadeJson(["dlq", "list", ...url], eve)) as unknown[]).length === 1,
  );
  const remote = (await palisadeJson(["dlq", "list", ...url], eve)) as { eventId: string }[];
  const local = (await palisadeJson(["dlq", "list", "--app", dir])) as { eventId: string }[];
  assert.deepEqual(remote, local, "the same rows either way");
  assert.equal(remote[0]?.eventId, id);

  const viewer = await palisade(["dlq", "replay", id, ...url], eve);
  assert.equal(viewer.status, 1);
  assert.match(viewer.stderr, /needs the operator role; admin "eve" is a viewer/);
  await waitUntil("the cause to pass", () => Date.now() > until + 50);
  const replay = await palisade(["dlq", "replay", id, ...url], ops);
  assert.equal(replay.status, 0, replay.stderr);
  assert.match(replay.stdout, /requeued 1 of 1 dead letter/);
  await logs.waitFor((l) => l.msg === "worked" && l.n === until);

  const verify = await palisade(["audit", "verify", ...url], eve);
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /^audit log intact: \d+ records/);
  const tail = await palisade(["audit", "tail", "-n", "50", ...url], eve);
  assert.match(tail.stdout, /delivery\.replayed {2}allowed {2}actor=admin:ops/);

  const held = await palisade(["quarantine", "hold", "work", "--reason", "drill", ...url], ops);
  assert.equal(held.status, 0, held.stderr);
  const list = (await palisadeJson(["quarantine", "list", ...url], eve)) as {
    scope: { name: string };
    reason: string;
  }[];
  assert.deepEqual(
    list.map((e) => [e.scope.name, e.reason]),
    [["work", "Held by admin:ops: drill"]],
  );
  assert.equal((await palisade(["quarantine", "release", "work", ...url], ops)).status, 0);
  assert.deepEqual(await palisadeJson(["quarantine", "list", ...url], eve), []);

  const keys = (await palisadeJson(["keys", "status", ...url], eve)) as { active: number };
  assert.equal(keys.active, 1);
  assert.deepEqual(await palisadeJson(["secrets", "list", ...url], eve), [
    "EVE_KEY",
    "OPS_KEY",
    "ROOT_KEY",
    "TEST_KEY",
  ]);
  const replayed = await palisade(["replay", "--since", "1h", "--type", "job.queued", ...url], ops);
  assert.match(replayed.stdout, /replayed 1 deliveries of 1 events/);
  const traces = await palisade(["traces", "--id", "0".repeat(32), ...url], eve);
  assert.equal(traces.status, 1, "no such trace");
});

test("--url refuses a key in the clear off loopback, a missing key, and --nats beside it", async (t) => {
  const dir = tempApp(t, { "key.txt": "" });
  const clear = await palisade(["dlq", "list", "--url", "http://palisade.example:8787"], {
    PALISADE_ADMIN_KEY: OPS,
  });
  assert.equal(clear.status, 2);
  assert.match(clear.stderr, /would send the admin key in the clear: use https:\/\//);
  const none = await palisade(["dlq", "list", "--url", "http://127.0.0.1:9"], { PALISADE_ADMIN_KEY: "" });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /needs an admin's API key: set PALISADE_ADMIN_KEY or pass --admin-key-file/);
  writeFileSync(join(dir, "key.txt"), "");
  const empty = await palisade([
    "dlq",
    "list",
    "--url",
    "http://127.0.0.1:9",
    "--admin-key-file",
    join(dir, "key.txt"),
  ]);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /is empty/);
  const down = await palisade(["dlq", "list", "--url", "http://127.0.0.1:9"], { PALISADE_ADMIN_KEY: OPS });
  assert.equal(down.status, 1);
  assert.match(down.stderr, /Cannot reach the gateway at http:\/\/127\.0\.0\.1:9/);
  const both = await palisade(
    ["dlq", "list", "--url", "http://127.0.0.1:9", "--nats", "nats://127.0.0.1:4222"],
    {
      PALISADE_ADMIN_KEY: OPS,
    },
  );
  assert.equal(both.status, 2);
  assert.match(both.stderr, /not both/);
});
