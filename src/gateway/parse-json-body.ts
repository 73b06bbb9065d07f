import sjson from "secure-json-parse";
import { PalisadeError } from "../errors.ts";
import {
  GATEWAY_BAD_ENCODING,
  GATEWAY_BAD_JSON,
  GATEWAY_FORBIDDEN_KEY,
  GATEWAY_TOO_DEEP,
  GATEWAY_UNSAFE_NUMBER,
} from "./errors.ts";
import { findUnsafeNumbers, mayHoldUnsafeNumbers, type UnsafeNumber } from "./find-unsafe-numbers.ts";
import { locateSyntaxError } from "./locate-syntax-error.ts";

/** Deepest nesting of arrays and objects a body may have. @default 32 */
export const MAX_JSON_DEPTH = 32;

/**
 * Says whether the schema of the event type that holds `pointer` accepts a string there; `stringForm`
 * is the document with its unsafe numbers as strings. Undefined when no schema applies at `pointer`.
 */
export type StringFormCheck = (
  stringForm: unknown,
  pointer: string,
) => { type: string; accepts: boolean } | undefined;

export interface ParseJsonOptions {
  /** @default MAX_JSON_DEPTH */
  maxDepth?: number;
  /** Words the fix for a number JSON cannot carry exactly; without it the fix is "send it as a string". */
  stringFormAt?: StringFormCheck;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const MAX_LISTED = 10;

/**
 * Decodes and parses a JSON request body defensively: malformed UTF-8 is refused rather than
 * replaced with U+FFFD (RFC 8259 §8.1), nesting is bounded before parsing so a deep document
 * cannot exhaust the stack, `__proto__` / `constructor.prototype` keys are refused (prototype
 * poisoning), and so are numbers JSON.parse would silently change: integers beyond ±(2^53−1)
 * (rounded) and numbers beyond ±1.8e308 (Infinity). Every failure is a 400 naming what is wrong and
 * where, never quoting the body: refusals are logged and audited, and a body is the sender's data.
 */
export function parseJsonBody(body: Buffer, options: ParseJsonOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw bad(GATEWAY_BAD_ENCODING, "Request body is not valid UTF-8");
  }
  if (text.trim() === "") throw bad(GATEWAY_BAD_JSON, "Request body is empty; send a JSON event");
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw bad(
      GATEWAY_TOO_DEEP,
      `Request body nests ${depth > maxDepth * 4 ? "far " : ""}deeper than ${maxDepth} levels`,
    );
  }
  let value: unknown;
  try {
    value = sjson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (err) {
    throw parseFailure(err, text);
  }
  if (mayHoldUnsafeNumbers(text)) {
    const { numbers, stringForm } = findUnsafeNumbers(text);
    if (numbers.length > 0) throw unsafeNumbers(numbers, stringForm, options.stringFormAt);
  }
  return value;
}

// V8's messages quote the input ("Unexpected token 'x', \"…\" is not valid JSON"); ours name the
// line and column only.
function parseFailure(err: unknown, text: string): PalisadeError {
  const reason = err instanceof Error ? err.message : String(err);
  if (/forbidden prototype property/i.test(reason)) {
    return bad(
      GATEWAY_FORBIDDEN_KEY,
      'Request body contains a forbidden "__proto__" or "constructor.prototype" key',
    );
  }
  const at = locateSyntaxError(text);
  if (at < 0) return bad(GATEWAY_BAD_JSON, "Request body is not valid JSON");
  if (at >= text.length)
    return bad(GATEWAY_BAD_JSON, "Request body is not valid JSON: it ends before the JSON value is complete");
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  const column = at - before.lastIndexOf("\n");
  return bad(
    GATEWAY_BAD_JSON,
    `Request body is not valid JSON: unexpected character at line ${line}, column ${column}`,
  );
}

function unsafeNumbers(
  numbers: readonly UnsafeNumber[],
  stringForm: unknown,
  stringFormAt: StringFormCheck | undefined,
): PalisadeError {
  const details = numbers.slice(0, MAX_LISTED).map(({ pointer, problem }) => {
    const what =
      problem === "integer"
        ? "is an integer beyond ±9007199254740991 (2^53−1), which a JSON number cannot carry exactly"
        : "is beyond the range of a JSON number (±1.8e308)";
    return { pointer, message: `${what}; ${fix(stringFormAt?.(stringForm, pointer))}` };
  });
  const listed = details.map((d) => `${shorten(d.pointer) || "/"} ${d.message}`).join("; ");
  const more = numbers.length > MAX_LISTED ? ` (and ${numbers.length - MAX_LISTED} more)` : "";
  return new PalisadeError(GATEWAY_UNSAFE_NUMBER, `Cannot accept request: ${listed}${more}`, {
    status: 400,
    details,
  });
}

function fix(schema: { type: string; accepts: boolean } | undefined): string {
  if (schema === undefined) return "send it as a string";
  if (schema.accepts) return `send it as a string: the schema of "${schema.type}" accepts a string here`;
  return `the schema of "${schema.type}" accepts no string here; the app must allow one (for example "type": ["integer", "string"]) before it can be sent as a string`;
}

// A pointer is made of the sender's keys: keep what a log line carries short.
function shorten(pointer: string): string {
  return pointer.length > 100 ? `${pointer.slice(0, 100)}…` : pointer;
}

// Counts bracket depth outside strings; stops early once past any limit worth reporting.
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
      if (max > limit * 8) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function bad(code: string, message: string): PalisadeError {
  return new PalisadeError(code, message, { status: 400 });
}
