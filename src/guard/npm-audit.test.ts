import assert from "node:assert/strict";
import { test } from "node:test";
import { tempApp } from "../../test/kit/temp-app.ts";
import { type AuditRunner, auditDependencies, parseAuditReport } from "./npm-audit.ts";

/** What `npm audit --json --package-lock-only` (npm 11, report version 2) prints for a vulnerable tree. */
const AUDIT_REPORT = {
  auditReportVersion: 2,
  vulnerabilities: {
    lodash: {
      name: "lodash",
      severity: "critical",
      isDirect: true,
      via: [
        {
          source: 1096305,
          name: "lodash",
          dependency: "lodash",
          title: "Prototype Pollution in lodash",
          url: "https://github.com/advisories/GHSA-p6mc-m468-83gw",
          severity: "high",
          cwe: ["CWE-1321"],
          cvss: { score: 7.4, vectorString: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H" },
          range: "<4.17.19",
        },
        {
          source: 1096996,
          name: "lodash",
          dependency: "lodash",
          title: "Command Injection in lodash",
          url: "https://github.com/advisories/GHSA-35jh-r3h4-6jhm",
          severity: "critical",
          cwe: ["CWE-77", "CWE-94"],
          cvss: { score: 7.2, vectorString: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H" },
          range: "<4.17.21",
        },
      ],
      effects: ["lodash-helper"],
      range: "<=4.17.20",
      nodes: ["node_modules/lodash"],
      fixAvailable: { name: "lodash", version: "4.17.21", isSemVerMajor: false },
    },
    "lodash-helper": {
      name: "lodash-helper",
      severity: "moderate",
      isDirect: true,
      via: ["lodash"],
      effects: [],
      range: "*",
      nodes: ["node_modules/lodash-helper"],
      fixAvailable: false,
    },
  },
  metadata: {
    vulnerabilities: { info: 0, low: 0, moderate: 1, high: 0, critical: 1, total: 2 },
    dependencies: { prod: 3, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 2 },
  },
};

const LOCK = {
  name: "app",
  lockfileVersion: 3,
  requires: true,
  packages: {
    "": { name: "app", dependencies: { lodash: "4.17.15" } },
    "node_modules/lodash": { version: "4.17.15" },
  },
};

test("npm audit's JSON becomes one vulnerability per package, with advisories and the fix", () => {
  const parsed = parseAuditReport(JSON.stringify(AUDIT_REPORT));
  assert.ok(Array.isArray(parsed));
  assert.deepEqual(
    parsed.map((v) => [v.name, v.severity, v.advisories.length, v.via]),
    [
      ["lodash", "critical", 2, []],
      ["lodash-helper", "moderate", 0, ["lodash"]],
    ],
  );
  assert.match(parsed[0]?.fix ?? "", /update lodash to 4\.17\.21/);
  assert.match(parsed[1]?.fix ?? "", /no fixed version/);
});

test("an unreachable registry is a reason to skip, never a pass", async (t) => {
  // What npm prints when the advisory endpoint refuses (here: a proxy that only allows GET).
  const refused = JSON.stringify({
    message: "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
    statusCode: 405,
    error: { summary: "", detail: "" },
  });
  assert.match(String(parseAuditReport(refused)), /could not reach the registry: 405 Method Not Allowed/);
  const offline = JSON.stringify({
    error: { code: "ENOTFOUND", summary: "request failed, getaddrinfo ENOTFOUND" },
  });
  assert.match(String(parseAuditReport(offline)), /ENOTFOUND/);

  const dir = tempApp(t, { "package-lock.json": LOCK });
  const timeout: AuditRunner = async () => ({ error: "npm audit did not finish within 30 s" });
  assert.deepEqual(await auditDependencies(dir, timeout), {
    status: "skipped",
    reason: "npm audit did not finish within 30 s",
  });
  const garbage: AuditRunner = async () => ({ stdout: "<html>" });
  assert.equal((await auditDependencies(dir, garbage)).status, "skipped");
});

test("an app without dependencies needs no audit and does not run one", async (t) => {
  const never: AuditRunner = async () => assert.fail("the audit must not run");
  assert.deepEqual(await auditDependencies(tempApp(t, {}), never), { status: "no-dependencies" });
  const emptyLock = tempApp(t, { "package-lock.json": { ...LOCK, packages: { "": { name: "app" } } } });
  assert.deepEqual(await auditDependencies(emptyLock, never), { status: "no-dependencies" });
  const unlocked = tempApp(t, { "package.json": { dependencies: { lodash: "^4" } } });
  const skipped = await auditDependencies(unlocked, never);
  assert.equal(skipped.status, "skipped");
});

test("a lockfile with dependencies is audited with the runner, in the app directory", async (t) => {
  const dir = tempApp(t, { "package-lock.json": LOCK });
  const seen: string[] = [];
  const runner: AuditRunner = async (cwd) => {
    seen.push(cwd);
    return { stdout: JSON.stringify(AUDIT_REPORT) };
  };
  const outcome = await auditDependencies(dir, runner);
  assert.deepEqual(seen, [dir]);
  assert.equal(outcome.status, "audited");
});
