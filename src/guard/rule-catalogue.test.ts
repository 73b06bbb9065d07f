import assert from "node:assert/strict";
import { test } from "node:test";
import { WAIVER_RULES } from "./apply-waivers.ts";
import { RULES } from "./rule-catalogue.ts";
import { RULE_CHECKS } from "./rules/index.ts";

test("rule ids are unique, well-formed and in order, and each has a check (waiver rules are applied by the runner)", () => {
  const ids = RULES.map((r) => r.id);
  assert.deepEqual(ids, [...new Set(ids)].sort());
  for (const r of RULES) {
    assert.match(r.id, /^PAL\d{3}$/);
    assert.ok(r.title.length > 0 && r.help.length > 0, r.id);
  }
  assert.deepEqual([...Object.keys(RULE_CHECKS), ...WAIVER_RULES].sort(), ids);
});
