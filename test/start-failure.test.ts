/**
 * A start that fails part-way (the port is taken, the kv store was rolled back) closes everything it
 * had opened: no sandbox keeps running, no sealing lease stays behind, no store file stays open; and
 * the app starts normally once the cause is gone.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { AUDIT_FILE, AUDIT_KIND, readAudit } from "../src/audit/index.ts";
import { openSqliteKvStore } from "../src/kv/index.ts";
import { openAppKeyRing, startPlatform } from "../src/main.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

function app(t: TestContext): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: failing-start
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
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}

/** Live Node child processes of this test process: the sandboxes of its platforms. */
function liveChildren(): string[] {
  return readdirSync("/proc").flatMap((name) => {
    if (!/^[0-9]+$/.test(name)) return [];
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) !== process.pid || state === "Z") return [];
      const argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      return argv[0] === process.execPath ? [argv.join(" ")] : []; // not esbuild's build service
    } catch {
      return []; // exited while listed
    }
  });
}

/** Files under `dir` this process still has open. */
function openFilesUnder(dir: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return [];
    }
  });
}

function leases(dir: string): string[] {
  const leaseDir = join(dir, ".palisade", "keyring.leases");
  return existsSync(leaseDir) ? readdirSync(leaseDir) : [];
}

async function portInUse(t: TestContext): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

test("a start that cannot listen fails and leaves no sandbox, lease or open store behind", async (t) => {
  const dir = app(t);
  const port = await portInUse(t);
  const logs = captureLogs();
  await assert.rejects(startPlatform({ appDir: dir, logger: logs.logger, port }), { code: "EADDRINUSE" });
  assert.ok(
    logs.lines.some((l) => l.msg === "palisade is running") === false,
    "the failed start never reported running",
  );
  assert.deepEqual(liveChildren(), [], "no sandbox of the failed start is still running");
  assert.deepEqual(leases(dir), [], "its sealing lease is released");
  assert.deepEqual(openFilesUnder(dir), [], "its event log, kv and audit files are closed");
  assert.deepEqual(readdirSync(join(dir, ".palisade", "bundles")), [], "its staged bundles are removed");

  // The cause gone, the same app starts and runs.
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);
  await logs.waitFor((l) => l.msg === "worker ran");
});

test("a start refused by a rolled-back kv store releases everything it opened and audits the refusal", async (t) => {
  const dir = app(t);
  const kv = openSqliteKvStore(join(dir, ".palisade", "kv.db"), openAppKeyRing(dir));
  await kv.set("limits", "alice", { credit: 0 });
  await kv.close();
  const db = new DatabaseSync(join(dir, ".palisade", "kv.db"));
  db.prepare("DELETE FROM kv WHERE key = 'alice'").run(); // someone with write access to the file
  db.close();

  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_KV_ROLLED_BACK",
  });
  assert.deepEqual(leases(dir), [], "its sealing lease is released");
  assert.deepEqual(openFilesUnder(dir), [], "its event log and audit files are closed");
  assert.deepEqual(liveChildren(), []);
  const refused = readAudit(join(dir, AUDIT_FILE)).filter((r) => r.kind === AUDIT_KIND.rollbackDetected);
  assert.deepEqual(
    refused.map((r) => [r.subject, r.outcome, r.details?.code]),
    [["kv.db", "denied", "PAL_KV_ROLLED_BACK"]],
  );
});
