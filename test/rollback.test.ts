/**
 * Rollback and deletion, tried against the real files: an older secrets.json put back after a key
 * was revoked is refused by a running gateway (which keeps the newer keys and audits it) and by start.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AUDIT_FILE, AUDIT_KIND, readAudit } from "../src/audit/index.ts";
import { startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
const NEW_KEY = "new-key-0123456789abcdef";

function app(t: Parameters<typeof tempApp>[0]): string {
  return tempApp(t, {
    "palisade.yaml": `name: rollback
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  noop:
    handler: functions/noop.ts
    on: [job.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/noop.ts": "export default () => {};",
  });
}

test("an older secrets.json restored after a key was revoked: the gateway keeps refusing the key and audits it, and start refuses", async (t) => {
  const dir = app(t);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  const closed = { done: false };
  t.after(() => (closed.done ? undefined : platform.close()));
  const secretsFile = join(dir, ".palisade", "secrets.json");
  copyFileSync(secretsFile, join(dir, "secrets.backup.json"));

  const rotated = palisade("secrets", "rotate", "TEST_KEY", "--value", NEW_KEY, "--grace", "1", "--app", dir);
  assert.equal(rotated.status, 0, rotated.stderr);
  const status = (key: string) =>
    post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } }, "application/json", key).then(
      (r) => r.status,
    );
  while ((await status(TEST_KEY)) !== 401) await new Promise((r) => setTimeout(r, 250));

  copyFileSync(join(dir, "secrets.backup.json"), secretsFile);
  const audited = () => readAudit(join(dir, AUDIT_FILE), { kinds: [AUDIT_KIND.rollbackDetected] }).length > 0;
  while (!audited()) {
    assert.equal(await status(TEST_KEY), 401, "the revoked key stays revoked");
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(await status(TEST_KEY), 401);
  assert.equal(await status(NEW_KEY), 202, "the gateway keeps working with the newer keys");
  const [record] = readAudit(join(dir, AUDIT_FILE), { kinds: [AUDIT_KIND.rollbackDetected] });
  assert.deepEqual(record?.details, { found: 1, expected: 2 });
  assert.ok(logs.lines.some((l) => /older generation/.test(l.msg)));
  await platform.close();
  closed.done = true;

  await assert.rejects(startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }), {
    code: "PAL_SECURITY_ROLLBACK",
    message: /secrets\.json" is generation 1, but generation 2 was already written/,
  });
  const listed = palisade("secrets", "list", "--app", dir);
  assert.equal(listed.status, 1);
  assert.match(listed.stderr, /PAL_SECURITY_ROLLBACK|older copy was restored/);
  assert.doesNotMatch(listed.stderr, /\n\s+at /, "no stack trace");

  const write = palisade("secrets", "rm", "TEST_KEY", "--app", dir);
  assert.equal(write.status, 1, "no write over a rolled-back store");
  assert.match(write.stderr, /older copy was restored/);

  // The other fix the message names: remove the store and set every secret again.
  rmSync(secretsFile);
  const reset = palisade("secrets", "set", "TEST_KEY", "--value", NEW_KEY, "--app", dir);
  assert.equal(reset.status, 0, reset.stderr);
  const again = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => again.close());
  const post2 = (key: string) =>
    post(`${again.url}/events`, { type: "job.queued", data: { n: 1 } }, "application/json", key).then(
      (r) => r.status,
    );
  assert.equal(await post2(NEW_KEY), 202);
  assert.equal(await post2(TEST_KEY), 401);
});
