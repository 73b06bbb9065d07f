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
    /^Error: unknown keyword "propertiez" for JSON Schema 2020-12 \(a typo, or a keyword of another draft\?\); an annotation of your own must be named "x-…"$/,
  );
  assert.throws(
    () => compileSchema(ajv, { type: "string", format: "no-such-format" }),
    /^Error: unknown format "no-such-format" at "#"; known formats are .*\bidn-email, idn-hostname, .*\biri, iri-reference\b/,
  );
  // A property may be named like an annotation, in any spelling: it is data, not a keyword.
  const named = compileSchema(ajv, {
    type: "object",
    properties: { "x-request id": { type: "string" }, "x-trace": { type: "string" } },
  });
  assert.deepEqual(named({ "x-request id": 1 }), [{ pointer: "/x-request id", message: "must be string" }]);
});

test("$schema picks the dialect: 2020-12's or none is 2020-12, draft-07's is draft-07, any other is refused", () => {
  const ajv = createAjv();
  for (const uri of [
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2020-12/schema#",
  ])
    assert.deepEqual(
      compileSchema(ajv, { $schema: uri, type: "array", prefixItems: [{ type: "string" }] })([1]),
      [{ pointer: "/0", message: "must be string" }],
    );
  for (const uri of ["http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema"])
    assert.deepEqual(compileSchema(ajv, { $schema: uri, type: "array", items: [{ type: "string" }] })([1]), [
      { pointer: "/0", message: "must be string" },
    ]);
  for (const uri of [
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-04/schema#",
    "https://json-schema.org/draft-07/schema#",
  ])
    assert.throws(
      () => compileSchema(ajv, { $schema: uri, type: "string" }),
      (err: Error) =>
        err.message ===
        `"$schema" "${uri}" is not a dialect Palisade validates; use "https://json-schema.org/draft/2020-12/schema" or "http://json-schema.org/draft-07/schema#" (or leave "$schema" out for 2020-12)`,
    );
  // Each dialect refuses the other's keywords, naming the dialect it read.
  assert.throws(
    () => compileSchema(ajv, { $schema: "http://json-schema.org/draft-07/schema#", prefixItems: [] }),
    /unknown keyword "prefixItems" for JSON Schema draft-07/,
  );
  assert.throws(
    () => compileSchema(ajv, { type: "array", items: [{ type: "string" }] }),
    (err: Error) => err.message === "not valid JSON Schema 2020-12: data/items must be object,boolean",
  );
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

// Cases from the JSON Schema Test Suite (json-schema-org/JSON-Schema-Test-Suite,
// tests/draft2020-12/optional/format), and the RFC rules behind them.
const FORMAT_CASES: Record<string, { valid: string[]; invalid: string[] }> = {
  "idn-hostname": {
    valid: [
      "실례.테스트",
      "xn--ihqwcrb4cv8a8dqg056pqjye",
      "l·l",
      "α͵β",
      "א׳ב",
      "・ぁ",
      "ب٠ب",
      "ßς་〇",
      "a。b",
      "BÜCHER.example",
    ],
    invalid: [
      "",
      "-hello",
      `${"a".repeat(64)}.example`,
      "xn--X", // invalid Punycode
      "xn---9uc", // non-canonical Punycode
      "xn--example-", // decodes to ASCII only
      "XN--aa---o47jg78q", // "--" at positions 3 and 4 of the U-label
      "xn--7a", // decodes to a DISALLOWED code point
      "실〮례.테스트", // U+302E, a DISALLOWED exception
      "a·l", // MIDDLE DOT not between two l
      "α͵S", // Greek KERAIA not before Greek
      "A׳ב", // Hebrew GERESH not after Hebrew
      "def・abc", // KATAKANA MIDDLE DOT with no kana or Han
      "ب٠۰", // Arabic-Indic and Extended Arabic-Indic digits mixed
      "example.",
      "a..b",
      "a_b.example",
    ],
  },
  "idn-email": {
    valid: [
      "실례@실례.테스트",
      "δοκιμή@example.com",
      '"δοκιμή"@example.com',
      '"a b"@example.com',
      "a@[192.0.2.1]",
      "a@[IPv6:2001:db8::1]",
      "𝕏@example.com",
    ],
    invalid: [
      "2962",
      "user＠example.com",
      "a..b@example.com",
      ".a@example.com",
      "a(b)@example.com",
      `${"a".repeat(65)}@example.com`,
      "a@[300.1.1.1]",
      "a@-x.example",
    ],
  },
  iri: {
    valid: [
      "http://ƒøø.ßår/?∂éœ=πîx#πîüx",
      "http://[2001:db8::1]",
      "http://[V1.fe]", // IPvFuture
      "urn:example:resource",
      "file:/etc/hosts",
      "http://ƒøø.ßår/?q=\u{F0000}", // private use is allowed in the query only
      "https://例子.中国/路径?q=ü",
    ],
    invalid: [
      "/abc",
      "âππ",
      "\\\\WINDOWS\\filëßåré",
      "http://2001:0db8:85a3:0000:0000:8a2e:0370:7334",
      "http://[::ffff:192.168.0.01]",
      "http://ƒøø.ßår/\n",
      "http://x/%zz", // "%" only before two hex digits
      "http://x/\uE000", // private use outside the query
      "http://x/\uFFFE", // a noncharacter
      "http://x/\u200E", // a bidi formatting character
      "https://example.com/<script>",
    ],
  },
  "iri-reference": {
    valid: ["//ƒøø.ßår/?∂éœ=πîx#πîüx", "/âππ", "âππ", "#ƒrägmênt", "../δοκιμή", ""],
    invalid: ["\\\\WINDOWS\\filëßåré", "#ƒräg\\mênt", "has space", "a%2"],
  },
};

for (const [format, cases] of Object.entries(FORMAT_CASES)) {
  test(`format ${format} accepts what its RFC allows and refuses the rest`, () => {
    for (const dialect of [{}, { $schema: "http://json-schema.org/draft-07/schema#" }]) {
      const validate = compileSchema(createAjv(), { ...dialect, type: "string", format });
      for (const value of cases.valid)
        assert.deepEqual(validate(value), [], `${format} ${JSON.stringify(value)}`);
      for (const value of cases.invalid)
        assert.deepEqual(
          validate(value),
          [{ pointer: "", message: `must match format "${format}"` }],
          `${format} ${JSON.stringify(value)}`,
        );
    }
  });
}

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

test("a draft-07 tuple or a change of dialect is judged as conservatively as any other change", () => {
  const d7 = "http://json-schema.org/draft-07/schema#";
  const tuple = { $schema: d7, type: "array", items: [{ type: "string" }] };
  assert.deepEqual(checkCompatibility(tuple, { ...tuple, "x-note": "annotated" }), []);
  assert.notDeepEqual(
    checkCompatibility(tuple, { ...tuple, items: [{ type: "string" }, { type: "number" }] }),
    [],
  );
  assert.notDeepEqual(checkCompatibility(tuple, { type: "array", prefixItems: [{ type: "string" }] }), []);
  // The same keywords mean the same under both dialects (ajv applies $ref siblings in draft-07 too).
  const plain = { type: "object", properties: { n: { type: "number" } } };
  assert.deepEqual(checkCompatibility({ $schema: d7, ...plain }, plain), []);
});
