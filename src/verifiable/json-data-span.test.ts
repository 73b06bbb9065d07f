import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../test/kit/seeded-random.ts";
import { type DataSpan, dataSpans } from "./json-data-span.ts";

const NONE: DataSpan = { raw: undefined, trimmed: undefined, base64: undefined };

function only(text: string): DataSpan {
  const spans = dataSpans(text);
  assert.ok(spans, `no spans for ${JSON.stringify(text)}`);
  assert.equal(spans.length, 1);
  return spans[0] as DataSpan;
}

test("the raw span runs from after the colon to the end of the value, as the extension's vectors hash it", () => {
  const vector = '{\n "specversion" : "1.0",\n "exta" : "value1",\n "data" : {\n  "hello" : "world"\n }\n}\n';
  assert.deepEqual(only(vector), {
    raw: ' {\n  "hello" : "world"\n }',
    trimmed: '{\n  "hello" : "world"\n }',
    base64: undefined,
  });
  assert.deepEqual(only('{"data": {"hello": "world"}}'), {
    raw: ' {"hello": "world"}',
    trimmed: '{"hello": "world"}',
    base64: undefined,
  });
  assert.deepEqual(only('{"data":42,"x":1}'), { raw: "42", trimmed: "42", base64: undefined });
  assert.deepEqual(only('{"data" :\t"text",\r\n"x":1}'), {
    raw: '\t"text"',
    trimmed: '"text"',
    base64: undefined,
  });
});

test("data_base64 gives its string value, JSON escapes resolved", () => {
  assert.deepEqual(
    only('{\n "datacontenttype" : "application/octet-stream",\n "data_base64" : "8J+koQ=="\n}\n'),
    {
      ...NONE,
      base64: "8J+koQ==",
    },
  );
  assert.equal(only('{"data_base64":"8J\\/koQ\\u003d="}').base64, "8J/koQ==");
  assert.equal(only('{"data_base64":7}').base64, undefined);
});

test("a repeated member keeps the last value, as JSON.parse does", () => {
  const text = '{"data": {"a": 1}, "id": "x", "data" : [1, 2], "data_base64": "QQ==", "data_base64": "Qg=="}';
  const span = only(text);
  assert.equal(span.raw, " [1, 2]");
  assert.deepEqual(JSON.parse(span.trimmed as string), (JSON.parse(text) as { data: unknown }).data);
  assert.equal(span.base64, "Qg==");
  // A later non-string data_base64 hides an earlier string one, as JSON.parse would.
  assert.equal(only('{"data_base64": "QQ==", "data_base64": null}').base64, undefined);
});

test("member names are compared after unescaping; nested and quoted 'data' is not the member", () => {
  assert.equal(only('{"d\\u0061ta": 1}').raw, " 1");
  assert.equal(only('{"data\\u0000": 1}').raw, undefined);
  const nested = '{"outer": {"data": 1}, "s": "\\"data\\": 2", "list": [{"data": 3}]}';
  assert.deepEqual(only(nested), NONE);
  const tricky = '{"data": "a \\"quoted\\" } ] , string \\\\", "next": {"data": 9}}';
  assert.equal(only(tricky).trimmed, '"a \\"quoted\\" } ] , string \\\\"');
});

test("a batch gives one span per element in order", () => {
  const batch = '[ {"data": 1}, {"id": "2"}, {"data_base64": "QQ=="} , 5, {"data":{"x":[1,{"y":2}]}} ]';
  assert.deepEqual(dataSpans(batch), [
    { raw: " 1", trimmed: "1", base64: undefined },
    NONE,
    { ...NONE, base64: "QQ==" },
    NONE,
    { raw: '{"x":[1,{"y":2}]}', trimmed: '{"x":[1,{"y":2}]}', base64: undefined },
  ]);
  assert.deepEqual(dataSpans(" [ ] "), []);
  assert.deepEqual(dataSpans("{}"), [NONE]);
});

test("text that is not a JSON object or array gives undefined, never an exception", () => {
  for (const text of [
    "",
    "   ",
    "42",
    '"data"',
    "{",
    '{"data": }',
    '{"data": 1,}',
    '{"data": 1} x',
    '{"data": 1}{}',
    '{"data" 1}',
    "{data: 1}",
    '{"data": [1, 2}',
    '{"data": {"a": 1]}',
    '{"data": "unterminated}',
    '{"data": "tab\there"}',
    '{"data": "\\x"}',
    '{"data": "\\u12G4"}',
    '{"data": 01}',
    '{"data": 1.}',
    '{"data": -}',
    '{"data": 1e}',
    '{"data": tru}',
    '{"data": NaN}',
    "\ufeff{}",
    "[1,]",
    "[",
  ]) {
    assert.equal(dataSpans(text), undefined, JSON.stringify(text));
  }
});

test("deep nesting and long strings are scanned without recursion", () => {
  const depth = 200_000;
  const deep = `{"data": ${"[".repeat(depth)}${"]".repeat(depth)}}`;
  assert.equal(only(deep).trimmed?.length, depth * 2);
  assert.equal(dataSpans(`{"data": ${"[".repeat(depth)}${"]".repeat(depth - 1)}}`), undefined);
  const long = `{"data": "${"\\\\x".repeat(100_000)}"}`;
  assert.equal(only(long).trimmed?.length, 300_002);
});

test("on generated documents the trimmed span parses to what JSON.parse gives for data", () => {
  const random = seededRandom(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const space = () => pick(["", " ", "\n  ", "\t", "\r\n"]);
  const scalar = () =>
    pick(['"s"', '"\\u00e9\\"}"', "0", "-1.5e+3", "true", "false", "null", '"data"', '"\\\\"', '"{[,:]}"']);
  const value = (depth: number): string => {
    const roll = random();
    if (depth > 3 || roll < 0.4) return scalar();
    if (roll < 0.7) {
      const n = Math.floor(random() * 4);
      return `[${Array.from({ length: n }, () => space() + value(depth + 1) + space()).join(",")}]`;
    }
    const n = Math.floor(random() * 4);
    const members = Array.from(
      { length: n },
      () => `${space()}"${pick(["a", "data", "d\\u0061ta"])}"${space()}:${space()}${value(depth + 1)}`,
    );
    return `{${members.join(",")}}`;
  };
  for (let i = 0; i < 500; i++) {
    const members = Array.from(
      { length: Math.floor(random() * 5) },
      () =>
        `${space()}"${pick(["id", "data", "d\\u0061ta", "data_base64"])}"${space()}:${space()}${value(0)}${space()}`,
    );
    const text = `${space()}{${members.join(",")}}${space()}`;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const span = only(text);
    if ("data" in parsed) {
      assert.ok(span.raw !== undefined && span.trimmed !== undefined, text);
      assert.deepEqual(JSON.parse(span.trimmed), parsed.data, text);
      assert.equal(span.raw.trimStart(), span.trimmed);
    } else {
      assert.equal(span.raw, undefined, text);
    }
    const b64 = parsed.data_base64;
    assert.equal(span.base64, typeof b64 === "string" ? b64 : undefined, text);
  }
});
