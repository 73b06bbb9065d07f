import assert from "node:assert/strict";
import { test } from "node:test";
import { lintSchema } from "./schema-lint.ts";

const STRICT = {
  type: "object",
  required: ["id", "tags"],
  additionalProperties: false,
  properties: {
    id: { type: "string", maxLength: 64 },
    kind: { type: "string", enum: ["a", "b"] },
    n: { type: "number" },
    tags: { type: "array", maxItems: 10, items: { type: "string", maxLength: 20 } },
    nested: { $ref: "#/$defs/nested" },
  },
  $defs: {
    nested: {
      type: "object",
      required: ["ok"],
      additionalProperties: false,
      properties: { ok: { type: "boolean" } },
    },
  },
};

test("a strict schema has no issue", () => {
  assert.deepEqual(lintSchema(STRICT), []);
});

test("each kind of looseness is found with its place in the schema", () => {
  const issues = lintSchema({
    type: "object",
    properties: {
      note: { type: "string" },
      list: { type: "array", items: { type: "number" } },
      bag: { type: "object", required: ["x"], properties: { x: { type: ["string", "null"], maxLength: 3 } } },
      anything: {},
      untyped: { description: "free" },
    },
    $defs: { unused: { type: "string" } },
  });
  const show = issues.map((i) => `${i.kind} /${i.at.join("/")}`).sort();
  assert.deepEqual(show, [
    "any /properties/anything",
    "any /properties/untyped",
    "array /properties/list",
    "object /",
    "object /properties/bag",
    "required /",
    "string /$defs/unused",
    "string /properties/note",
  ]);
});

test("true, an empty schema and an array without items accept any value", () => {
  assert.deepEqual(lintSchema(true), [{ kind: "any", at: [] }]);
  assert.deepEqual(lintSchema({ $schema: "https://json-schema.org/draft/2020-12/schema" }), [
    { kind: "any", at: [] },
  ]);
  assert.deepEqual(lintSchema({ type: "array", maxItems: 2 }), [{ kind: "any", at: ["items"] }]);
});

test("every branch of a combinator is judged; narrowing keywords are not", () => {
  const issues = lintSchema({
    anyOf: [{ type: "string", maxLength: 5 }, { type: "string" }],
    not: { type: "string" },
  });
  assert.deepEqual(issues, [{ kind: "string", at: ["anyOf", 1] }]);
});

test("a closed tuple needs no maxItems and unevaluatedProperties: false closes an object", () => {
  assert.deepEqual(lintSchema({ type: "array", prefixItems: [{ type: "integer" }], items: false }), []);
  const closed = {
    type: "object",
    required: ["a"],
    unevaluatedProperties: false,
    properties: { a: { const: 1 } },
  };
  assert.deepEqual(lintSchema(closed), []);
});

test("a string whose anchored pattern cannot repeat without bound needs no maxLength", () => {
  for (const bounded of ["^[A-Z]{3}$", "^\\d{4}-\\d{2}-\\d{2}$", "^[a-z+*]{1,8}$", "^x?y$"])
    assert.deepEqual(lintSchema({ type: "string", pattern: bounded }), [], bounded);
  for (const open of ["^[a-z]+$", "[A-Z]{3}", "^a*", "^a{2,}$", "^a|b$", "^abc\\$"])
    assert.deepEqual(lintSchema({ type: "string", pattern: open }), [{ kind: "string", at: [] }], open);
});
