import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCompatibility, compileSchema, createAjv } from "./index.ts";

test("x-* annotation keywords are accepted anywhere and validate nothing; other unknown keywords stay refused", () => {
  const ajv = createAjv();
  const validate = compileSchema(ajv, {
    type: "object",
    "x-owner": "payments",
    properties: { card: { type: "string", "x-pii": true, "x-examples": [{ "x-nested": 1 }] } },
  });
  assert.deepEqual(validate({ card: "4242" }), []);
  assert.deepEqual(validate({ card: 4242 }), [{ pointer: "/card", message: "must be string" }]);
  assert.throws(
    () => compileSchema(ajv, { type: "object", propertiez: {} }),
    /unknown keyword: "propertiez"/,
  );
  assert.throws(() => compileSchema(ajv, { type: "string", format: "no-such-format" }), /unknown format/);
});

test("a draft-07 schema is compiled as draft-07 (definitions, tuple items), next to 2020-12 ones", () => {
  const ajv = createAjv();
  const draft7 = compileSchema(ajv, {
    $schema: "http://json-schema.org/draft-07/schema#",
    definitions: { money: { type: "number", minimum: 0 } },
    type: "object",
    properties: {
      amount: { $ref: "#/definitions/money" },
      pair: { type: "array", items: [{ type: "string" }, { type: "number" }] },
    },
  });
  assert.deepEqual(draft7({ amount: 5, pair: ["a", 1] }), []);
  assert.deepEqual(
    draft7({ amount: -1, pair: [1, "a"] }).map((e) => e.pointer),
    ["/amount", "/pair/0", "/pair/1"],
  );
  // In 2020-12 the same tuple is written with prefixItems; array-form items is not 2020-12.
  const modern = compileSchema(ajv, {
    type: "array",
    prefixItems: [{ type: "string" }],
    $defs: { x: { type: "string" } },
  });
  assert.deepEqual(modern(["a", 2]), []);
  assert.throws(() => compileSchema(ajv, { type: "array", items: [{ type: "string" }] }));
});

test("iri, iri-reference, idn-email and idn-hostname formats validate internationalized values", () => {
  const ajv = createAjv();
  const v = compileSchema(ajv, {
    type: "object",
    properties: {
      iri: { type: "string", format: "iri" },
      ref: { type: "string", format: "iri-reference" },
      email: { type: "string", format: "idn-email" },
      host: { type: "string", format: "idn-hostname" },
    },
  });
  assert.deepEqual(
    v({
      iri: "https://例子.中国/路径?q=ü",
      ref: "../δοκιμή",
      email: "用户@例子.广告",
      host: "bücher.example",
    }),
    [],
  );
  assert.deepEqual(
    v({ iri: "mailto:josé@example.com", email: "plain@example.com", host: "example.com" }),
    [],
  );
  const bad = v({ iri: "relative/path", ref: "has space", email: "no-at-sign", host: "-bad-.example" });
  assert.deepEqual(
    bad.map((e) => e.pointer),
    ["/iri", "/ref", "/email", "/host"],
  );
  assert.equal(v({ email: "a@b@c..example" }).length, 1);
  assert.equal(v({ host: `${"a".repeat(64)}.example` }).length, 1, "a label is at most 63 octets");
  assert.equal(v({ iri: "https://example.com/<script>" }).length, 1, "excluded characters");
});

test("an x-* annotation that changes between versions is not a breaking change", () => {
  assert.deepEqual(
    checkCompatibility(
      { type: "object", "x-owner": "a", properties: { n: { type: "number", "x-unit": "ms" } } },
      { type: "object", "x-owner": "b", properties: { n: { type: "number", "x-unit": "s" } } },
    ),
    [],
  );
  assert.equal(
    checkCompatibility({ type: "number", unknownKw: 1 }, { type: "number", unknownKw: 2 }).length,
    1,
  );
});
