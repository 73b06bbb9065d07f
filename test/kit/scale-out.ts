/**
 * A scale-out app for tests: built and signed once (`palisade build`), then run as real `gateway`
 * and `worker` processes against a real nats-server. Each test gets its own server and app.
 */
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import { BIN, type DevProcess, startDev, stop } from "./cli-process.ts";
import { TEST_KEY } from "./http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./temp-app.ts";

/**
 * An app whose `work` function logs "started", emits `job.done` (a stable id per attempt chain),
 * waits `delayMs`, then logs "handled"; `count` logs "counted" for each `job.done`.
 */
export function scaleOutApp(t: TestContext, delayMs: number, concurrency = 1): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: scale
# The workers' /metrics is what the tests count from: open (the admin key is not in NATS here).
metrics: { public: true }
events:
  job.queued: { schema: schemas/job.json }
  job.done: { schema: schemas/job.json }
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    emit: [job.done]
    limits: { timeoutMs: 10000, concurrency: ${concurrency}, logsPerSecond: 100000 }
  count:
    handler: functions/count.ts
    on: [job.done]
    # Every log line is what the tests observe: none may be dropped by the default rate.
    limits: { logsPerSecond: 100000 }
`,
    "schemas/job.json": NUMBER_SCHEMA,
    "functions/work.ts": `export default async (e, ctx) => {
  ctx.log.info("started", { n: e.data.n });
  await ctx.emit("job.done", { n: e.data.n });
  await new Promise((r) => setTimeout(r, ${delayMs}));
  ctx.log.info("handled", { n: e.data.n });
};`,
    "functions/count.ts": `export default async (e, ctx) => { ctx.log.info("counted", { n: e.data.n }); };`,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const built = spawnSync(process.execPath, [BIN, "build", dir], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`palisade build failed: ${built.stderr}`);
  return dir;
}

/** Deployments whose secret store already holds TEST_KEY (`<dir> <nats url>`). */
const seeded = new Set<string>();

/**
 * Sets TEST_KEY in the deployment's shared secret store (`palisade secrets set --nats`): on NATS the
 * gateways read their API keys from there, not from the app's secrets.json.
 */
export function setNatsSecret(dir: string, nats: string, name = "TEST_KEY", value = TEST_KEY): void {
  const set = spawnSync(process.execPath, [BIN, "secrets", "set", name, "--app", dir, "--nats", nats], {
    encoding: "utf8",
    input: value,
  });
  if (set.status !== 0) throw new Error(`palisade secrets set --nats failed: ${set.stderr}`);
}

/**
 * Starts `palisade <role> <dir> --nats <url> --port 0 …` and stops it (SIGKILL) after the test. The
 * first start on a deployment sets TEST_KEY in its secret store, unless `seedSecret` is false.
 */
export async function startRole(
  t: TestContext,
  role: "gateway" | "worker" | "start",
  dir: string,
  nats: string,
  extra: string[] = [],
  { seedSecret = true }: { seedSecret?: boolean } = {},
): Promise<DevProcess> {
  if (seedSecret && !seeded.has(`${dir} ${nats}`)) {
    setNatsSecret(dir, nats);
    seeded.add(`${dir} ${nats}`);
  }
  const p = await startDev(dir, role, ["--nats", nats, ...extra]);
  t.after(() => stop(p.child, "SIGKILL"));
  return p;
}

/** Values of `field` in the lines of `processes` whose msg is `msg`. */
export function logged(processes: readonly DevProcess[], msg: string, field = "n"): unknown[] {
  return processes.flatMap((p) => p.lines.filter((l) => l.msg === msg).map((l) => l[field]));
}

/** Polls `check` every 50 ms until it is true, failing with `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
