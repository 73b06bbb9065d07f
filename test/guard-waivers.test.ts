import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import {
  checkGate,
  formatCheckText,
  GUARD_CHECK_FAILED,
  runChecks,
  unwaivedHigh,
} from "../src/guard/index.ts";
import { loadApp } from "../src/manifest/index.ts";
import { NUMBER_SCHEMA, tempApp } from "./kit/temp-app.ts";

/** A function whose only egress is the metadata address: one high finding (PAL013) at egress[0]. */
const manifest = (waivers = "") => `name: waived
events:
  job.due: { schema: schemas/n.json }
sources:
  - schedule: { cron: "0 * * * *", emit: job.due, data: { n: 1 } }
functions:
  probe:
    handler: functions/probe.ts
    on: [job.due]
    egress: ["169.254.169.254:80"]
    limits: { concurrency: 1 }
${waivers}`;

const app = (t: TestContext, waivers = "") =>
  loadApp(
    tempApp(t, {
      "palisade.yaml": manifest(waivers),
      "schemas/n.json": NUMBER_SCHEMA,
      "functions/probe.ts": "export default () => {};\n",
    }),
  );
const NOW = { now: new Date("2026-06-01T00:00:00Z") };

function refused(t: TestContext, waivers: string): string[] {
  try {
    app(t, waivers);
  } catch (err) {
    const e = err as { code: string; details: string[] };
    assert.equal(e.code, "PAL_MANIFEST_INVALID");
    return e.details;
  }
  return assert.fail("expected the manifest to be refused");
}

test("an unwaived high finding blocks the gate, which names it and how to waive it", async (t) => {
  const report = await runChecks(app(t), NOW);
  assert.deepEqual(
    unwaivedHigh(report).map((f) => [f.rule, f.location.path, f.location.line]),
    [["PAL013", "functions.probe.egress[0]", 10]],
  );
  const error = checkGate(report, "start");
  assert.equal(error?.code, GUARD_CHECK_FAILED);
  assert.match(error?.message ?? "", /Refusing to start "waived".*1 unwaived high/);
  assert.match(
    error?.message ?? "",
    /PAL013 palisade\.yaml:10 functions\.probe\.egress\[0\]: Function "probe" may call 169\.254\.169\.254/,
  );
  assert.match(error?.message ?? "", /waivers: with rule, path, reason and expires/);
});

test("a waiver with a reason and a future expiry waives the finding, and every report lists it", async (t) => {
  const waivers = `waivers:
  - rule: PAL013
    path: functions.probe.egress[0]
    reason: the probe reads instance metadata by design
    expires: 2026-06-30
`;
  const report = await runChecks(app(t, waivers), NOW);
  assert.deepEqual(unwaivedHigh(report), []);
  assert.equal(checkGate(report, "build"), undefined);
  const finding = report.findings.find((f) => f.rule === "PAL013");
  assert.deepEqual(finding?.waived, {
    reason: "the probe reads instance metadata by design",
    expires: "2026-06-30",
  });
  assert.equal(report.rules.find((r) => r.id === "PAL013")?.status, "waived");
  assert.deepEqual(
    report.waivers.map((w) => [w.rule, w.path, w.status, w.location.line]),
    [["PAL013", "functions.probe.egress[0]", "active", 13]],
  );
  const text = formatCheckText(report);
  assert.match(text, /WAIVED PAL013/);
  assert.match(
    text,
    /Waivers:\n {2}PAL013 functions\.probe\.egress\[0\] until 2026-06-30 \(active\): the probe reads/,
  );
});

test("an expired waiver waives nothing and is itself reported", async (t) => {
  const waivers =
    "waivers:\n  - { rule: PAL013, path: 'functions.probe.egress[0]', reason: temporary, expires: 2026-05-31 }\n";
  const report = await runChecks(app(t, waivers), NOW);
  assert.deepEqual(
    unwaivedHigh(report).map((f) => f.rule),
    ["PAL013"],
  );
  assert.deepEqual(
    report.findings.filter((f) => f.rule === "PAL090").map((f) => f.location.path),
    ["waivers[0].expires"],
  );
  assert.equal(report.waivers[0]?.status, "expired");
});

test("a waiver applies through its expiry day, and only to the rule and path it names", async (t) => {
  const waivers =
    "waivers:\n  - { rule: PAL013, path: 'functions.probe.egress[0]', reason: today is the last day, expires: 2026-06-01 }\n" +
    "  - { rule: PAL011, path: 'functions.probe.egress[0]', reason: wrong rule, expires: 2027-01-01 }\n";
  const report = await runChecks(app(t, waivers), NOW);
  assert.deepEqual(unwaivedHigh(report), []);
  assert.deepEqual(
    report.waivers.map((w) => w.status),
    ["active", "unused"],
  );
});

test("a waiver without a reason or an expiry, or with a day that does not exist, is a manifest error", (t) => {
  assert.deepEqual(
    refused(t, "waivers:\n  - { rule: PAL013, path: 'functions.probe.egress[0]', expires: 2027-01-01 }\n"),
    ['palisade.yaml:13: waivers[0]: missing required field "reason"'],
  );
  assert.deepEqual(
    refused(t, "waivers:\n  - { rule: PAL013, path: 'functions.probe.egress[0]', reason: ok }\n"),
    ['palisade.yaml:13: waivers[0]: missing required field "expires"'],
  );
  assert.match(
    refused(t, 'waivers:\n  - { rule: PAL013, path: x, reason: "  ", expires: 2027-01-01 }\n').join("\n"),
    /waivers\[0\]\.reason: invalid value " {2}"/,
  );
  assert.match(
    refused(t, "waivers:\n  - { rule: PAL013, path: x, reason: ok, expires: 2027-02-30 }\n").join("\n"),
    /waivers\[0\]\.expires: "2027-02-30" is not a calendar day/,
  );
  assert.match(
    refused(t, "waivers:\n  - { rule: PAL013, path: x, reason: ok, expires: next year }\n").join("\n"),
    /waivers\[0\]\.expires: invalid value "next year"; Last day the waiver applies, as YYYY-MM-DD/,
  );
  assert.match(
    refused(t, "waivers:\n  - { rule: R13, path: x, reason: ok, expires: 2027-01-01 }\n").join("\n"),
    /waivers\[0\]\.rule: invalid value "R13"/,
  );
});
