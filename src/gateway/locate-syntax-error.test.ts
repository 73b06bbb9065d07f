import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { GATEWAY_BAD_ENCODING, GATEWAY_TOO_DEEP } from "./errors.ts";
import { locateSyntaxError } from "./locate-syntax-error.ts";
import { parseJsonBody } from "./parse-json-body.ts";

const SUITE = fileURLToPath(new URL("../../../shared/testdata/jsontestsuite/test_parsing", import.meta.url));
const utf8 = new TextDecoder("utf-8", { fatal: true });

test("the locator finds an error exactly where JSON.parse refuses, over every JSONTestSuite document", () => {
  const files = readdirSync(SUITE).filter((f) => f.endsWith(".json"));
  assert.ok(files.length > 300, `expected the suite at ${SUITE}`);
  let checked = 0;
  for (const file of files) {
    const bytes = readFileSync(join(SUITE, file));
    // Not UTF-8, or nested too deep: the body parser refuses those before any JSON is read.
    const refusedEarly = catchCode(() => parseJsonBody(bytes));
    if (refusedEarly === GATEWAY_BAD_ENCODING || refusedEarly === GATEWAY_TOO_DEEP) continue;
    const text = utf8.decode(bytes);
    let valid = true;
    try {
      JSON.parse(text);
    } catch {
      valid = false;
    }
    const at = locateSyntaxError(text);
    assert.equal(at === -1, valid, `${file}: locator says ${at}, JSON.parse says ${valid}`);
    assert.ok(at <= text.length, file);
    checked++;
  }
  assert.ok(checked > 280, `only ${checked} checked`);
});

test("the offset is the first character that cannot continue the document", () => {
  assert.equal(locateSyntaxError('{"a": tru }'), 6);
  assert.equal(locateSyntaxError("[1, 2,]"), 6);
  assert.equal(locateSyntaxError('{"a":1} x'), 8);
  assert.equal(locateSyntaxError('"\\x"'), 1);
  assert.equal(locateSyntaxError("[01]"), 2);
  assert.equal(locateSyntaxError('  [1, {"b": [null, false]}]  '), -1);
});

function catchCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}
