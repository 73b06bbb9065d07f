/**
 * The CLI answers at once and says the fix: a taken port fails `dev` before any bundling, naming
 * `--port`/PALISADE_PORT; a second `dev` on one app is refused while the first keeps running and
 * keeps its state; `send` outside an app says there is no palisade.yaml; `--json` works on check and threats.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startDev, stop } from "./kit/cli-process.ts";
import { palisade } from "./kit/cli-run.ts";
import { NUMBER_SCHEMA, tempApp, testPrincipal } from "./kit/temp-app.ts";

function app(t: import("node:test").TestContext): string {
  return tempApp(t, {
    "palisade.yaml": `name: guarded
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  worker:
    handler: functions/worker.ts
    on: [job.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/worker.ts": "export default (e, ctx) => ctx.log.info('worker ran');",
  });
}

test("dev on a taken port exits 1 naming --port and PALISADE_PORT, before building anything", async (t) => {
  const dir = app(t);
  const holder: Server = createServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  t.after(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const run = await palisade(["dev", dir, "--port", String(port)]);
  assert.equal(run.status, 1, run.stderr);
  assert.match(
    run.stderr,
    new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`),
  );
  assert.match(run.stderr, /--port <n> or PALISADE_PORT/);
  assert.doesNotMatch(run.stderr, /at .*\.ts:\d+/, "no stack trace");
  assert.equal(existsSync(join(dir, ".palisade", "bundles")), false, "nothing was built");
  assert.equal(existsSync(join(dir, ".palisade", "run.lock")), false, "the lock is released");
  const viaEnv = await palisade(["dev", dir], { PALISADE_PORT: String(port) });
  assert.equal(viaEnv.status, 1);
  assert.match(viaEnv.stderr, /already in use/);
});

test("a second dev on the same app is refused, and stopping it leaves the first one's state", async (t) => {
  const dir = app(t);
  const first = await startDev(dir);
  t.after(() => stop(first.child));
  const gatewayFile = join(dir, ".palisade", "gateway.json");
  const before = readFileSync(gatewayFile, "utf8");
  const second = await palisade(["dev", dir, "--port", "0"]);
  assert.equal(second.status, 1, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(`"palisade dev" \\(pid ${first.child.pid}\\) already runs this app; stop it first`),
  );
  assert.equal(readFileSync(gatewayFile, "utf8"), before, "the first dev's gateway.json is untouched");
  const lock = JSON.parse(readFileSync(join(dir, ".palisade", "run.lock"), "utf8")) as { pid: number };
  assert.equal(lock.pid, first.child.pid, "the lock is still the first one's");
  const health = await fetch(new URL("/healthz", first.url));
  assert.equal(health.status, 200, "the first dev keeps serving");

  await stop(first.child);
  assert.equal(existsSync(join(dir, ".palisade", "run.lock")), false, "a clean stop releases the lock");
  const third = await startDev(dir); // and the app can run again
  t.after(() => stop(third.child));
});

test("a lock left by a killed dev is taken over", async (t) => {
  const dir = app(t);
  const first = await startDev(dir);
  await stop(first.child, "SIGKILL");
  assert.equal(existsSync(join(dir, ".palisade", "run.lock")), true, "kill -9 leaves the lock behind");
  const next = await startDev(dir);
  t.after(() => stop(next.child));
  const lock = JSON.parse(readFileSync(join(dir, ".palisade", "run.lock"), "utf8")) as { pid: number };
  assert.equal(lock.pid, next.child.pid);
});

test("send outside an app says there is no palisade.yaml and to pass --app", async (t) => {
  const empty = mkdtempSync(join(tmpdir(), "palisade-empty-"));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  const run = await palisade(["send", "job.queued", '{"n":1}', "--app", empty]);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /there is no palisade\.yaml in ".*palisade-empty-[^"]*"; run it inside an app/);
  assert.match(run.stderr, /--app <dir>/);
});

test("check and threats print JSON with --json, as with --format json", async (t) => {
  const dir = app(t);
  for (const command of ["check", "threats"]) {
    const extra = command === "check" ? ["--offline"] : [];
    const flag = await palisade([command, dir, ...extra, "--json"]);
    const format = await palisade([command, dir, ...extra, "--format", "json"]);
    assert.equal(flag.status, format.status, flag.stderr);
    assert.deepEqual(JSON.parse(flag.stdout), JSON.parse(format.stdout), command);
    assert.equal(typeof JSON.parse(flag.stdout), "object");
  }
});
