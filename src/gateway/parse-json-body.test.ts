import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_JSON_DEPTH, parseJsonBody } from "./index.ts";

const parse = (s: string | Buffer) => parseJsonBody(typeof s === "string" ? Buffer.from(s) : s);

test("valid JSON parses, a UTF-8 BOM is tolerated", () => {
  assert.deepEqual(parse('{"type":"a.b","data":{"n":[1,"ü"]}}'), { type: "a.b", data: { n: [1, "ü"] } });
  assert.deepEqual(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("{}")])), {});
});

test("malformed UTF-8 is refused instead of being replaced with U+FFFD", () => {
  assert.throws(() => parse(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])), {
    code: "PAL_GATEWAY_BAD_ENCODING",
    status: 400,
  });
});

test("__proto__ and constructor.prototype keys are refused at any depth", () => {
  for (const body of [
    '{"__proto__":{"x":1}}',
    '{"data":{"a":[{"__proto__":{}}]}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ]) {
    assert.throws(() => parse(body), { code: "PAL_GATEWAY_FORBIDDEN_KEY", status: 400 }, body);
  }
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test("nesting deeper than the limit is refused before parsing; brackets inside strings do not count", () => {
  const deep = `${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`;
  assert.throws(() => parse(deep), { code: "PAL_GATEWAY_TOO_DEEP" });
  assert.throws(() => parse("[".repeat(1_000_000)), { code: "PAL_GATEWAY_TOO_DEEP" });
  assert.deepEqual(parse(`{"s":"${"[".repeat(100)}\\"{"}`), { s: `${"[".repeat(100)}"{` });
  const atLimit = `${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`;
  assert.doesNotThrow(() => parse(atLimit));
});

test("empty and broken bodies are 400 with the parser's reason", () => {
  assert.throws(() => parse(""), { code: "PAL_GATEWAY_BAD_JSON", message: /empty/ });
  assert.throws(() => parse('{"a":'), {
    code: "PAL_GATEWAY_BAD_JSON",
    message: /^Request body is not valid JSON: /,
  });
});
