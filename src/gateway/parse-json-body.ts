import sjson from "secure-json-parse";
import { PalisadeError } from "../errors.ts";
import { GATEWAY_BAD_ENCODING, GATEWAY_BAD_JSON, GATEWAY_FORBIDDEN_KEY, GATEWAY_TOO_DEEP } from "./errors.ts";

/** Deepest nesting of arrays and objects a body may have. @default 32 */
export const MAX_JSON_DEPTH = 32;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes and parses a JSON request body defensively: malformed UTF-8 is refused rather than
 * replaced with U+FFFD (RFC 8259 §8.1), nesting is bounded before parsing so a deep document
 * cannot exhaust the stack, and `__proto__` / `constructor.prototype` keys are refused
 * (prototype poisoning). Every failure is a 400 naming what is wrong.
 */
export function parseJsonBody(body: Buffer, maxDepth = MAX_JSON_DEPTH): unknown {
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
  try {
    return sjson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (/forbidden prototype property/i.test(reason)) {
      throw bad(
        GATEWAY_FORBIDDEN_KEY,
        'Request body contains a forbidden "__proto__" or "constructor.prototype" key',
      );
    }
    throw bad(GATEWAY_BAD_JSON, `Request body is not valid JSON: ${reason}`);
  }
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
