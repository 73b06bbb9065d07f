import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type FunctionSpec, loadApp } from "../../manifest/index.ts";
import type { UsageRow } from "../../security/index.ts";
import {
  type FunctionSuggestion,
  guardedChanges,
  runPermissionsSuggest,
  SUGGEST_FAILED,
  suggestPermissions,
} from "./permissions-suggest.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-30T00:00:00Z");
const WINDOW = NOW - 30 * DAY;
const RECENT = NOW - 2 * DAY;
const STALE = NOW - 90 * DAY;

/** A real app directory whose functions section is `functions` (each handler exists, events declared). */
function appWith(t: TestContext, functions: string): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-suggest-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "functions"));
  writeFileSync(join(dir, "schemas/any.json"), '{ "type": "object" }');
  for (const name of ["a", "b", "other"])
    writeFileSync(join(dir, `functions/${name}.ts`), "export default () => {};");
  const events = ["t.in", "t.a", "t.b"].map((e) => `  ${e}: { schema: schemas/any.json }`).join("\n");
  writeFileSync(join(dir, "palisade.yaml"), `name: s\nevents:\n${events}\nfunctions:\n${functions}`);
  return dir;
}

const loadFunctions = (t: TestContext, functions: string): ReadonlyMap<string, FunctionSpec> =>
  loadApp(appWith(t, functions)).functions;

const use = (
  fn: string,
  kind: UsageRow["kind"],
  target: string,
  lastAt: number,
  count = 1,
  outcome: UsageRow["outcome"] = "used",
): UsageRow => ({ fn, kind, target, outcome, count, lastAt, lastReason: outcome === "denied" ? "no" : null });

const iso = (ms: number) => new Date(ms).toISOString();

test("suggest drops emit types, secrets and egress entries not used in the window, and only those", (t) => {
  const fns = loadFunctions(
    t,
    `  a:
    handler: functions/a.ts
    on: [t.in]
    emit: [t.a, t.b]
    secrets: [S1, S2, S3]
    egress: ["api.example.com:443", "http://127.0.0.1:8080", "[::1]:8443"]
  other:
    handler: functions/other.ts
    on: [t.in]
    secrets: [S3]
`,
  );
  const rows = [
    use("a", "emit", "t.a", RECENT, 7),
    use("a", "secret", "S1", RECENT),
    use("a", "secret", "S2", STALE, 4),
    use("a", "egress", "https://api.example.com:443", RECENT),
    use("a", "egress", "https://[::1]:8443", WINDOW),
    // Another function's use and a refused call are not this function's use of its grant.
    use("other", "secret", "S3", RECENT),
    use("a", "egress", "http://127.0.0.1:8080", RECENT, 2, "denied"),
  ];
  const s = suggestPermissions(fns.get("a") as FunctionSpec, rows, WINDOW);
  assert.equal(s.observed, true);
  assert.deepEqual(s.drop, [
    { kind: "emit", grant: "t.b", lastUsedAt: null, uses: 0, reason: "never-used" },
    { kind: "secret", grant: "S2", lastUsedAt: iso(STALE), uses: 4, reason: "stale" },
    { kind: "secret", grant: "S3", lastUsedAt: null, uses: 0, reason: "never-used" },
    { kind: "egress", grant: "http://127.0.0.1:8080", lastUsedAt: null, uses: 0, reason: "never-used" },
  ]);
  assert.deepEqual(s.narrow, []);
  assert.deepEqual(
    s.refused.map((r) => [r.kind, r.target, r.count]),
    [["egress", "http://127.0.0.1:8080", 2]],
  );
  const other = suggestPermissions(fns.get("other") as FunctionSpec, rows, WINDOW);
  assert.deepEqual(other.drop, []);
});

test("suggest narrows readwrite kv to read only when reads alone were seen in the window", (t) => {
  const fns = loadFunctions(
    t,
    `  a:
    handler: functions/a.ts
    on: [t.in]
    kv: { reads: readwrite, oldwrites: readwrite, writes: readwrite, oldread: read, idle: readwrite }
`,
  );
  const rows = [
    use("a", "kv-read", "reads", RECENT),
    use("a", "kv-read", "oldwrites", RECENT),
    use("a", "kv-write", "oldwrites", STALE, 3),
    use("a", "kv-write", "writes", RECENT),
    use("a", "kv-read", "oldread", STALE),
  ];
  const s = suggestPermissions(fns.get("a") as FunctionSpec, rows, WINDOW);
  assert.deepEqual(s.drop, [
    { kind: "kv", grant: "oldread", lastUsedAt: iso(STALE), uses: 1, reason: "stale" },
    { kind: "kv", grant: "idle", lastUsedAt: null, uses: 0, reason: "never-used" },
  ]);
  assert.deepEqual(s.narrow, [
    {
      kind: "kv",
      grant: "reads",
      lastUsedAt: null,
      uses: 0,
      reason: "never-used",
      from: "readwrite",
      to: "read",
    },
    {
      kind: "kv",
      grant: "oldwrites",
      lastUsedAt: iso(STALE),
      uses: 3,
      reason: "stale",
      from: "readwrite",
      to: "read",
    },
  ]);
});

test("--write needs --force for stale grants and for a function with no recorded use, not for never-used ones", (t) => {
  const fns = loadFunctions(
    t,
    `  a:
    handler: functions/a.ts
    on: [t.in]
    secrets: [USED, OLD, NEVER]
  b:
    handler: functions/b.ts
    on: [t.in]
    secrets: [B_KEY]
`,
  );
  const rows = [use("a", "secret", "USED", RECENT), use("a", "secret", "OLD", STALE)];
  const [a, b] = ["a", "b"].map((n) => suggestPermissions(fns.get(n) as FunctionSpec, rows, WINDOW));
  assert.equal(b?.observed, false);
  const guarded = guardedChanges([a, b] as FunctionSuggestion[], 30);
  assert.equal(guarded.length, 2);
  assert.match(guarded[0] ?? "", /^a: secret OLD \(last used .*before the 30-day window\)$/);
  assert.match(guarded[1] ?? "", /^b: secret B_KEY \(no capability use recorded for "b"/);
  assert.ok(!guarded.some((g) => g.includes("NEVER")));
  assert.deepEqual(guardedChanges([a as FunctionSuggestion], 30).length, 1);
});

test("suggest fails, writing nothing, when a grant to drop is shared through a YAML anchor", async (t) => {
  const dir = appWith(
    t,
    `  a: { handler: functions/a.ts, on: [t.in], secrets: &keys [K1, K2] }
  b: { handler: functions/b.ts, on: [t.in], secrets: *keys }
`,
  );
  const before = readFileSync(join(dir, "palisade.yaml"), "utf8");
  // No recorded use: every grant would be dropped, K1 and K2 of a included.
  await assert.rejects(runPermissionsSuggest({ app: dir, days: 30, write: true, force: true }), {
    code: SUGGEST_FAILED,
    message: /Cannot edit functions\.a\.secrets in palisade\.yaml: .*anchor or alias/,
  });
  assert.equal(readFileSync(join(dir, "palisade.yaml"), "utf8"), before);
});
