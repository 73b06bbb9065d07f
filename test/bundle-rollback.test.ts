/**
 * The runtime runs the bytes it verified, and never an older build than the last one it ran:
 * a bundle swapped in dist/ after verification does not run (the verified one does), a staged bundle
 * changed behind the platform's back is refused at the next process start, and a validly signed but
 * older bundle is refused (audited) unless `--allow-downgrade`, which is audited too. The other
 * function keeps working throughout.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { AUDIT_FILE, readAudit } from "../src/audit/index.ts";
import { buildSigned, type PreparedApp, prepareApp, startPlatform } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { buildFunction, loadSigningKey, signFunction } from "../src/supply/index.ts";
import { startDev, stop } from "./kit/cli-process.ts";
import { post } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { twoFunctionApp } from "./kit/two-function-app.ts";

const alpha = (version: string): string =>
  `export default (e, ctx) => { if (e.data.n === 99) process.exit(1); ctx.log.info('alpha ${version} ran'); };`;

async function run(t: TestContext, dir: string, prepared: PreparedApp) {
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 }, prepared);
  t.after(() => platform.close());
  return { logs, platform };
}

test("a bundle swapped in dist/ after verification never runs: the verified bytes do; a changed staged copy is refused", async (t) => {
  const dir = twoFunctionApp(t, "rollback", alpha("v1"));
  await buildSigned(loadApp(dir), join(dir, "dist"));
  const prepared = await prepareApp(dir, false, true);
  // Between verification and load, dist/alpha becomes another build, validly signed even.
  writeFileSync(join(dir, "functions", "alpha.ts"), alpha("v2"));
  await buildSigned(loadApp(dir), join(dir, "dist"));

  const { logs, platform } = await run(t, dir, prepared);
  const sent = await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } });
  assert.equal(sent.status, 202);
  await logs.waitFor((l) => l.fn === "alpha" && l.msg === "alpha v1 ran");
  await logs.waitFor((l) => l.fn === "beta" && l.msg === "beta ran");
  assert.ok(!logs.lines.some((l) => l.msg === "alpha v2 ran"));

  // The staged copy is changed behind the platform's back; alpha's next process start refuses it.
  const staged = join(prepared.buildDir ?? assert.fail("no run directory"), "alpha", "index.mjs");
  chmodSync(staged, 0o600);
  writeFileSync(staged, alpha("planted"));
  const crash = await post(`${platform.url}/events`, { type: "job.queued", data: { n: 99 } });
  await logs.waitFor(
    (l) => l.fn === "alpha" && l.eventId === crash.body.ids[0] && l.msg === "delivery failed",
    30000,
  );
  const [dead] = await platform.store.queue.deadLetters(5);
  assert.equal(dead?.reason, "load-failed");
  assert.match(dead?.error ?? "", /modified after verification/);
  await logs.waitFor((l) => l.fn === "beta" && l.eventId === crash.body.ids[0] && l.msg === "delivered");
  assert.ok(!logs.lines.some((l) => l.msg === "alpha planted ran" || l.msg === "alpha v2 ran"));
});

test("an older signed bundle is refused and audited; --allow-downgrade runs it, audited too", async (t) => {
  const dir = twoFunctionApp(t, "rollback", alpha("v1"));
  // A build of alpha signed long ago with the app's own key: validly signed, just old.
  await buildSigned(loadApp(dir), join(dir, "dist"));
  const old = await buildFunction({
    name: "alpha",
    handlerPath: join(dir, "functions", "alpha.ts"),
    appDir: dir,
    outDir: join(dir, "old"),
  });
  writeFileSync(join(dir, "functions", "alpha.ts"), alpha("v2"));
  await buildSigned(loadApp(dir), join(dir, "dist"));
  writeFileSync(
    old.bundlePath,
    readFileSync(old.bundlePath, "utf8").replace("alpha v1 ran", "alpha old ran"),
  );
  writeFileSync(
    old.sbomPath,
    readFileSync(old.sbomPath, "utf8").replace(old.sha256, sha256Of(old.bundlePath)),
  );
  signFunction(old.dir, loadSigningKey(dir), new Date("2020-01-01T00:00:00.000Z"));

  // v2 runs first and becomes the reference; then dist/alpha is rolled back to the old build.
  const first = await run(t, dir, await prepareApp(dir, false, true));
  await post(`${first.platform.url}/events`, { type: "job.queued", data: { n: 1 } });
  await first.logs.waitFor((l) => l.msg === "alpha v2 ran");
  await first.platform.close();
  cpSync(old.dir, join(dir, "dist", "alpha"), { recursive: true, force: true });

  const refused = await prepareApp(dir, false, true);
  assert.equal(refused.bundles.find((b) => b.fn.name === "alpha")?.refused?.code, "PAL_SUPPLY_DOWNGRADE");
  const second = await run(t, dir, refused);
  const sent = await post(`${second.platform.url}/events`, { type: "job.queued", data: { n: 2 } });
  assert.equal(sent.status, 202);
  await second.logs.waitFor((l) => l.fn === "beta" && l.msg === "beta ran");
  await second.logs.waitFor((l) => l.fn === "alpha" && l.msg === "delivery failed");
  assert.ok(!second.logs.lines.some((l) => l.msg === "alpha old ran"));
  await second.platform.close();
  const rejected = readAudit(join(dir, AUDIT_FILE)).filter((r) => r.kind === "bundle.rejected");
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]?.subject, "alpha");
  assert.equal(rejected[0]?.details?.code, "PAL_SUPPLY_DOWNGRADE");

  // The operator means it: palisade start --allow-downgrade runs the old build.
  const third = await startDev(dir, "start", ["--allow-downgrade"]);
  t.after(() => stop(third.child));
  await post(`${third.url}/events`, { type: "job.queued", data: { n: 3 } });
  await third.waitFor((l) => l.msg === "alpha old ran");
  await stop(third.child);
  const downgraded = readAudit(join(dir, AUDIT_FILE)).filter((r) => r.kind === "bundle.downgraded");
  assert.equal(downgraded.length, 1);
  assert.equal(downgraded[0]?.subject, "alpha");
  assert.equal(downgraded[0]?.outcome, "allowed");
});

function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
