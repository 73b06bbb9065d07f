import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { emitCycles, loadApp, worstCaseAmplification } from "./index.ts";

const SCHEMA = JSON.stringify({ type: "object" });

/** Loads an app whose functions are `functions` (YAML lines under `functions:`), types t.a..t.d. */
function app(t: TestContext, functions: string, extra = "") {
  const dir = mkdtempSync(join(tmpdir(), "palisade-amp-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "functions"));
  writeFileSync(join(dir, "schemas/any.json"), SCHEMA);
  for (const f of ["f", "g", "h"])
    writeFileSync(join(dir, `functions/${f}.ts`), "export default () => {};\n");
  writeFileSync(
    join(dir, "palisade.yaml"),
    `name: amp\n${extra}events:\n${["a", "b", "c", "d"].map((e) => `  t.${e}: { schema: schemas/any.json }\n`).join("")}functions:\n${functions}`,
  );
  return loadApp(dir);
}

test("worst case of an acyclic graph: every subscriber once, each emit up to emitsPerInvocation times", (t) => {
  const model = app(
    t,
    `  f: { handler: functions/f.ts, on: [t.a], emit: [t.b, t.c], limits: { emitsPerInvocation: 3 } }
  g: { handler: functions/g.ts, on: [t.b], emit: [t.d], limits: { emitsPerInvocation: 2 } }
  h: { handler: functions/h.ts, on: [t.b, t.d] }
`,
  );
  const amp = worstCaseAmplification(model);
  // d: h runs once. b: g (1 + 2 × (1 + 1)) + h (1) = 6. a: f (1 + 3 × max(1 + 6, 1 + 0)) = 22.
  assert.equal(amp.get("t.d"), 1);
  assert.equal(amp.get("t.b"), 6);
  assert.equal(amp.get("t.c"), 0);
  assert.equal(amp.get("t.a"), 22);
  assert.deepEqual(emitCycles(model), []);
});

test("a cycle is bounded by recursion.maxDepth, and without it only by the hop limit (unbounded)", (t) => {
  const looping = `  f: { handler: functions/f.ts, on: [t.a, t.b], emit: [t.b], limits: { emitsPerInvocation: 2 }`;
  const declared = app(t, `${looping}, recursion: { maxDepth: 2 } }\n`);
  // hop 2: 1 + 2 × (1 + 0) = 3 (its emits at hop 3 run nothing); hop 1: 1 + 2 × 4 = 9; hop 0: 1 + 2 × 10 = 21.
  assert.equal(worstCaseAmplification(declared).get("t.a"), 21);
  assert.deepEqual(emitCycles(declared), [["f"]]);
  const undeclared = app(t, `${looping} }\n`);
  // 2^16 chains of 16 hops: about 2^18, still finite; with 100 emits per run it is past any budget.
  assert.equal(worstCaseAmplification(undeclared).get("t.a"), 2 ** 18 - 3);
  const wide = app(t, `  f: { handler: functions/f.ts, on: [t.a, t.b], emit: [t.b] }\n`);
  assert.equal(worstCaseAmplification(wide).get("t.a"), Number.POSITIVE_INFINITY);
});

test("a cycle through two functions is one component; a function outside it is not in it", (t) => {
  const model = app(
    t,
    `  f: { handler: functions/f.ts, on: [t.a, t.c], emit: [t.b] }
  g: { handler: functions/g.ts, on: [t.b], emit: [t.c, t.d] }
  h: { handler: functions/h.ts, on: [t.d] }
`,
  );
  assert.deepEqual(emitCycles(model), [["f", "g"]]);
});
