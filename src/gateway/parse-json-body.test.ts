import assert from "node:assert/strict";
import { test } from "node:test";
import { isPalisadeError, type PalisadeError } from "../errors.ts";
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

test("empty and broken bodies are 400 naming line and column, never quoting the body", () => {
  assert.throws(() => parse(""), { code: "PAL_GATEWAY_BAD_JSON", message: /empty/ });
  assert.throws(() => parse('{"a":'), {
    code: "PAL_GATEWAY_BAD_JSON",
    message: "Request body is not valid JSON: it ends before the JSON value is complete",
  });
  const cases: [string, string][] = [
    ["SECRETMARKER", "line 1, column 1"],
    ['{"a":SECRETMARKER}', "line 1, column 6"],
    ['{\n  "SECRETMARKER": 1,\n  "b": SECRETMARKER\n}', "line 3, column 8"],
    ['["SECRETMARKER",]', "line 1, column 17"],
    ['{"SECRETMARKER":1}SECRETMARKER', "line 1, column 19"],
  ];
  for (const [body, at] of cases) {
    const err = catchError(() => parse(body));
    assert.equal(err.code, "PAL_GATEWAY_BAD_JSON", body);
    assert.equal(err.message, `Request body is not valid JSON: unexpected character at ${at}`, body);
    assert.ok(!JSON.stringify(err.toJSON()).includes("MARKER"), body);
  }
});

test("integers beyond ±(2^53−1) and numbers beyond ±1.8e308 are refused with their pointers", () => {
  const err = catchError(() =>
    parse(
      '{"data":{"id":12345678901234567890,"ok":9007199254740991,"list":[1,-9007199254740992]},"x":1e400}',
    ),
  );
  assert.equal(err.code, "PAL_GATEWAY_UNSAFE_NUMBER");
  assert.equal(err.status, 400);
  const details = err.details as { pointer: string; message: string }[];
  assert.deepEqual(
    details.map((d) => d.pointer),
    ["/data/id", "/data/list/1", "/x"],
  );
  assert.match(details[0]?.message ?? "", /beyond ±9007199254740991 .*; send it as a string$/);
  assert.match(details[2]?.message ?? "", /beyond the range of a JSON number/);
  assert.ok(!err.message.includes("12345678901234567890"), "the number itself is not echoed");
  // Safe integers, floats (even long ones), big numbers in exponent form and digits in strings pass.
  assert.deepEqual(parse('{"a":9007199254740991,"b":-9007199254740991,"c":0.12345678901234567891}'), {
    a: 9007199254740991,
    b: -9007199254740991,
    c: 0.12345678901234568,
  });
  assert.deepEqual(parse('{"big":1e300,"s":"12345678901234567890","k/~":1}'), {
    big: 1e300,
    s: "12345678901234567890",
    "k/~": 1,
  });
  const fraction = catchError(() => parse("[9007199254740993.0]"));
  assert.deepEqual(
    (fraction.details as { pointer: string }[]).map((d) => d.pointer),
    ["/0"],
  );
  const escaped = catchError(() => parse('{"k/~":[12345678901234567890]}'));
  assert.deepEqual(
    (escaped.details as { pointer: string }[]).map((d) => d.pointer),
    ["/k~1~0/0"],
  );
});

test("the fix for an unsafe integer says whether the schema accepts a string there", () => {
  const body = '{"type":"t","data":{"id":12345678901234567890,"n":12345678901234567890}}';
  const seen: unknown[] = [];
  const err = catchError(() =>
    parseJsonBody(Buffer.from(body), {
      stringFormAt: (doc, pointer) => {
        seen.push(doc);
        return { type: "t", accepts: pointer === "/data/id" };
      },
    }),
  );
  const [id, n] = err.details as { message: string }[];
  assert.match(id?.message ?? "", /send it as a string: the schema of "t" accepts a string here$/);
  assert.match(n?.message ?? "", /the schema of "t" accepts no string here; the app must allow one/);
  // The check sees the exact digits as strings, never a rounded number.
  assert.deepEqual(seen[0], { type: "t", data: { id: "12345678901234567890", n: "12345678901234567890" } });
});

function catchError(fn: () => unknown): PalisadeError {
  try {
    fn();
  } catch (err) {
    assert.ok(isPalisadeError(err));
    return err;
  }
  assert.fail("expected an error");
}
