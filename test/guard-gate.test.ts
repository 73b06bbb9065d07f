/**
 * The guardrails gate: `palisade build` and `palisade start` run `check` and refuse on unwaived
 * high findings, naming them; a waiver with a reason and an expiry lets them through.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BIN } from "./kit/cli-process.ts";
import { TEST_KEY } from "./kit/http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

const SAFE = `name: gated
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  worker:
    handler: functions/worker.ts
    on: [job.queued]
    limits: { concurrency: 2, dailyInvocations: 1000 }
`;

test("build and start refuse an app with unwaived high findings, naming them; a waiver lets it through", (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": SAFE,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/worker.ts": "export default async (e, ctx) => { await ctx.secrets.get('API_TOKEN'); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  // External input reaching a function that holds a secret and egress, without a filter: PAL040.
  const risky = SAFE.replace(
    "    limits:",
    '    secrets: [API_TOKEN]\n    egress: ["api.example.com:443"]\n    limits:',
  );
  writeFileSync(join(dir, "palisade.yaml"), risky);
  const refused = palisade("build", dir);
  assert.equal(refused.status, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /PAL040/);

  const waived = `${risky}waivers:
  - rule: PAL040
    path: functions.worker.filter
    reason: the worker only calls our own payment API
    expires: 2099-01-31
`;
  writeFileSync(join(dir, "palisade.yaml"), waived);
  const built = palisade("build", dir);
  assert.equal(built.status, 0, built.stdout + built.stderr);

  // The same finding without its waiver stops start, too.
  writeFileSync(join(dir, "palisade.yaml"), risky);
  const start = palisade("start", dir, "--port", "0");
  assert.equal(start.status, 1, start.stdout + start.stderr);
  assert.match(start.stderr, /PAL040/);
  assert.ok(readFileSync(join(dir, "palisade.yaml"), "utf8").includes("egress"));
});
