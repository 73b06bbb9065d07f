/**
 * Operator commands against a NATS-backed deployment (`--nats`): `dlq list`, `dlq replay` and
 * `replay` read and change the deployment's store in JetStream, not the app directory's files, and
 * keep their checks; an unreachable broker is a clear error without the URL's password.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { freePort, natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { logged, startRole, until } from "./kit/scale-out.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const LAZY = ["--accept-lazy-fsync"];
const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

/** `flaky` fails the first time it sees an event (one attempt: dead-lettered), then succeeds. */
function flakyApp(t: Parameters<typeof tempApp>[0]): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: ops
events:
  job.queued: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  flaky:
    handler: functions/flaky.ts
    on: [job.queued]
    kv: { seen: readwrite }
    retry: { attempts: 1 }
    limits: { logsPerSecond: 100000 }
`,
    "schemas/job.json": NUMBER_SCHEMA,
    "functions/flaky.ts": `export default async (e, ctx) => {
  const key = "n" + e.data.n;
  if ((await ctx.kv.get("seen", key)) === undefined) {
    await ctx.kv.set("seen", key, true);
    throw new Error("first attempt fails");
  }
  ctx.log.info("handled", { n: e.data.n });
};`,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const built = palisade("build", dir);
  assert.equal(built.status, 0, built.stderr);
  return dir;
}

test("dlq list, dlq replay and replay with --nats work on the deployment's store", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = flakyApp(t);
  const gateway = await startRole(t, "gateway", dir, nats.url, LAZY);
  const worker = await startRole(t, "worker", dir, nats.url, LAZY);
  assert.equal((await post(`${gateway.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);

  const deadLetters = () => {
    const r = palisade("dlq", "list", "--nats", nats.url, "--app", dir, "--json");
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { target: string; reason: string; error: string }[];
  };
  let dead = deadLetters();
  for (let i = 0; dead.length === 0 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 200));
    dead = deadLetters();
  }
  assert.equal(dead.length, 1);
  assert.equal(dead[0]?.target, "flaky");
  assert.equal(dead[0]?.reason, "attempts-exhausted");
  // The app directory's own store knows nothing of it: the command read the deployment's.
  const local = palisade("dlq", "list", "--app", dir, "--json");
  assert.equal(local.status, 0, local.stderr);
  assert.deepEqual(JSON.parse(local.stdout), []);

  const requeued = palisade("dlq", "replay", "--all", "--nats", nats.url, "--app", dir);
  assert.equal(requeued.status, 0, requeued.stderr);
  assert.match(requeued.stdout, /requeued 1 of 1/);
  await until(() => logged([worker], "handled").includes(1), "the requeued delivery handled");
  assert.deepEqual(deadLetters(), []);

  const replayed = palisade(
    "replay",
    "--since",
    "1h",
    "--function",
    "flaky",
    "--nats",
    nats.url,
    "--app",
    dir,
  );
  assert.equal(replayed.status, 0, replayed.stderr);
  assert.match(replayed.stdout, /replayed 1 deliveries of 1 events/);
  await until(() => logged([worker], "handled").length === 2, "the replayed delivery handled");
});

test("an operator command with --nats at an unreachable broker fails clearly, without the password", {
  skip: natsSkip(),
}, async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: ops
events:
  job.queued: { schema: schemas/job.json }
functions:
  f: { handler: functions/f.ts, on: [job.queued] }
`,
    "schemas/job.json": NUMBER_SCHEMA,
    "functions/f.ts": "export default () => {};\n",
  });
  const port = await freePort();
  const r = palisade("dlq", "list", "--nats", `nats://ops:hunter2@127.0.0.1:${port}`, "--app", dir);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`Cannot reach NATS at nats://ops:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(r.stderr, /hunter2/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});
