import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { RULES } from "../src/guard/index.ts";
import { copyShop } from "./kit/shop.ts";
import { NUMBER_SCHEMA, tempApp } from "./kit/temp-app.ts";

const CHECK = fileURLToPath(new URL("../src/cli/commands/check.ts", import.meta.url));
const THREATS = fileURLToPath(new URL("../src/cli/commands/threats.ts", import.meta.url));
const INIT = fileURLToPath(new URL("../src/cli/commands/init.ts", import.meta.url));

/** Runs a command module's entry in its own process, as the CLI would, and returns exit code and output. */
function run(call: string) {
  const script = `import { runCheck } from ${JSON.stringify(CHECK)};
import { runThreats } from ${JSON.stringify(THREATS)};
import { runInit } from ${JSON.stringify(INIT)};
process.exitCode = await (${call});`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const check = (dir: string, format = "text", host = "127.0.0.1") =>
  run(
    `runCheck(${JSON.stringify(dir)}, { format: ${JSON.stringify(format)}, host: ${JSON.stringify(host)} })`,
  );
const threats = (dir: string, format = "text") =>
  run(`runThreats(${JSON.stringify(dir)}, { format: ${JSON.stringify(format)} })`);

/** The shop's threat model as it appears in the README: keep the two in step. */
const SHOP_MERMAID = `flowchart LR
  %% palisade threats: shop
  src0(["storefront<br/>apiKey · authenticated"])
  type1{{"order.created<br/>strict schema"}}
  type2{{"payment.charged<br/>strict schema"}}
  fn3["charge<br/>≤2 at once · 100000/day"]
  fn4["notify<br/>≤2 at once · 100000/day"]
  src0 --> type1
  type1 --> fn3
  fn3 --> type2
  type2 --> fn4
  classDef external fill:#fee4e2,stroke:#b42318
  classDef authenticated fill:#fef0c7,stroke:#b54708
  classDef internal fill:#e0f2fe,stroke:#026aa2
  class src0 authenticated
`;

/** One high (metadata egress, waived), one high (plain HTTP off loopback, via --host) and a medium. */
const RISKY = `name: risky
events:
  job.due: { schema: schemas/n.json }
sources:
  - schedule: { cron: "0 * * * *", emit: job.due, data: { n: 1 } }
functions:
  probe:
    handler: functions/probe.ts
    on: [job.due]
    egress: ["169.254.169.254:80", "http://status.example:80"]
    limits: { concurrency: 1 }
waivers:
  - rule: PAL013
    path: functions.probe.egress[0]
    reason: reads instance metadata by design
    expires: 2999-12-31
`;
const risky = (t: import("node:test").TestContext) =>
  tempApp(t, {
    "palisade.yaml": RISKY,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/probe.ts": "export default () => {};\n",
  });

test("the sample shop passes check with no findings at all, in every format", (t) => {
  const dir = copyShop(t);
  const text = check(dir);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`No findings; ${RULES.length} of ${RULES.length} rules passed\\.`));
  const json = JSON.parse(check(dir, "json").stdout);
  assert.deepEqual(json.findings, []);
  assert.deepEqual(json.waivers, []);
  const sarif = JSON.parse(check(dir, "sarif").stdout);
  assert.deepEqual(sarif.runs[0].results, []);
});

test("a freshly initialised app passes check with no findings and has no threats", (t) => {
  const dir = join(tempApp(t, {}), "fresh-app");
  assert.equal(run(`runInit(${JSON.stringify(dir)})`).code, 0);
  const r = check(dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // Its package.json depends on Palisade (file:); the dependency audit waits for npm install's lockfile.
  assert.match(
    r.stdout,
    new RegExp(`No findings; ${RULES.length - 2} of ${RULES.length} rules passed, 2 skipped\\.`),
  );
  for (const rule of ["PAL060", "PAL061"])
    assert.match(r.stdout, new RegExp(`Skipped ${rule} .*no package-lock\\.json to audit; run npm install`));
  const model = threats(dir);
  assert.equal(model.code, 0);
  assert.match(model.stdout, /No threats found\./);
});

test("check exits 1 on an unwaived high finding and 0 once it is only waived; the text names where and how", (t) => {
  const dir = risky(t);
  const local = check(dir);
  assert.equal(local.code, 0, local.stdout);
  assert.match(
    local.stdout,
    /WAIVED PAL013 {2}Egress to a private, loopback or metadata address\n {7}at palisade\.yaml:10 functions\.probe\.egress\[0\]/,
  );
  assert.match(local.stdout, /MEDIUM PAL011/);
  assert.match(local.stdout, /1 finding\(s\): 0 high, 1 medium, 0 low, 1 waived/);
  const exposed = check(dir, "text", "0.0.0.0");
  assert.equal(exposed.code, 1);
  assert.match(exposed.stdout, /HIGH {3}PAL070 {2}Plain HTTP on a non-loopback address/);
});

test("SARIF 2.1.0 output carries what GitHub code scanning needs, waived findings as suppressed", (t) => {
  const sarif = JSON.parse(check(risky(t), "sarif", "0.0.0.0").stdout);
  assert.equal(sarif.version, "2.1.0");
  assert.equal(sarif.$schema, "https://json.schemastore.org/sarif-2.1.0.json");
  const run0 = sarif.runs[0];
  const driver = run0.tool.driver;
  assert.equal(driver.name, "palisade");
  assert.deepEqual(
    driver.rules.map((r: { id: string }) => r.id),
    RULES.map((r) => r.id),
  );
  for (const rule of driver.rules) {
    assert.ok(rule.shortDescription.text && rule.help.text && rule.fullDescription.text);
    assert.ok(["error", "warning", "note"].includes(rule.defaultConfiguration.level));
    assert.match(rule.properties["security-severity"], /^\d+\.\d$/);
  }
  const byRule = Object.fromEntries(run0.results.map((r: { ruleId: string }) => [r.ruleId, r]));
  assert.deepEqual(Object.keys(byRule).sort(), ["PAL011", "PAL013", "PAL070"]);
  for (const r of run0.results) {
    assert.equal(driver.rules[r.ruleIndex].id, r.ruleId);
    assert.ok(r.message.text.length > 0);
    const loc = r.locations[0].physicalLocation;
    assert.doesNotMatch(loc.artifactLocation.uri, /^\/|^file:/);
    assert.ok(Number.isInteger(loc.region.startLine) && loc.region.startLine >= 1);
  }
  assert.equal(byRule.PAL070.level, "error");
  assert.equal(byRule.PAL011.level, "warning");
  assert.deepEqual(byRule.PAL013.locations[0].physicalLocation, {
    artifactLocation: { uri: "palisade.yaml", uriBaseId: "APPROOT" },
    region: { startLine: 10 },
  });
  assert.deepEqual(byRule.PAL013.suppressions, [
    {
      kind: "inSource",
      status: "accepted",
      justification: "reads instance metadata by design (until 2999-12-31)",
    },
  ]);
  assert.equal(byRule.PAL011.suppressions, undefined);
  assert.equal(run0.invocations[0].executionSuccessful, true);
});

test("threats prints the shop's graph as text, JSON, Mermaid (as in the README) and DOT", (t) => {
  const dir = copyShop(t);
  const text = threats(dir);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /principal "storefront" \(apiKey, authenticated\) → order\.created/);
  const json = JSON.parse(threats(dir, "json").stdout);
  assert.deepEqual(
    json.edges.map((e: { from: string; to: string }) => `${e.from} ${e.to}`),
    [
      "s:principal:storefront t:order.created",
      "t:order.created f:charge",
      "f:charge t:payment.charged",
      "t:payment.charged f:notify",
    ],
  );
  assert.deepEqual(json.threats, []);
  assert.equal(threats(dir, "mermaid").stdout, SHOP_MERMAID);
  assert.match(threats(dir, "dot").stdout, /^digraph "palisade threats: shop" \{/);
});

test("threats exits 1 when a high-severity threat exists", (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: leaky
events:
  hook.received: { schema: schemas/n.json }
sources:
  - webhook: { path: /hooks/in, secret: HOOK_SECRET, emit: hook.received }
functions:
  sync:
    handler: functions/sync.ts
    on: [hook.received]
    secrets: [API_KEY]
    egress: ["api.example.com:443"]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/sync.ts": "export default () => {};\n",
  });
  const r = threats(dir);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /HIGH exfiltration \[Information disclosure\]\n {3}Input from webhook \/hooks\/in \(external\) reaches function "sync"/,
  );
});
