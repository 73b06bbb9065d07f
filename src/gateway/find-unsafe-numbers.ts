/** A number in a JSON text that a JavaScript number cannot hold as written. */
export interface UnsafeNumber {
  /** RFC 6901 JSON Pointer of the number in the document. */
  pointer: string;
  /** `integer`: an integer literal beyond ±(2^53−1); `range`: beyond ±1.8e308 (it would become Infinity). */
  problem: "integer" | "range";
}

/** What `findUnsafeNumbers` found, and the document with each unsafe number replaced by its literal text. */
export interface UnsafeNumbers {
  numbers: UnsafeNumber[];
  /** The parsed document with every unsafe number as a string: what sending the string form would give. */
  stringForm: unknown;
}

// An integer as written (I-JSON, RFC 7493 §2.2): digits, perhaps with an all-zero fraction. Numbers
// in exponent form are floats by intent (6.02e23) and are refused only when they overflow.
const INTEGER_LITERAL = /^-?\d+(?:\.0+)?$/;
// Integer literals shorter than 16 digits are always within ±(2^53−1) = ±9007199254740991, and
// exponents of fewer than 3 digits never overflow.
const MAY_BE_UNSAFE = /\d{16}|[eE][+-]?\d{3}/;

/**
 * Quick check on raw JSON text: false means no number in it can be unsafe (strings may cause a
 * false true, never a false false), so the careful parse below runs only for bodies that need it.
 */
export function mayHoldUnsafeNumbers(text: string): boolean {
  return MAY_BE_UNSAFE.test(text);
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/**
 * Finds the numbers JSON.parse would silently round (integers beyond ±(2^53−1)) or turn into
 * Infinity, using the reviver's `context.source` (the literal as written). `text` must be valid JSON.
 */
export function findUnsafeNumbers(text: string): UnsafeNumbers {
  const literals = new Map<object, { source: string; problem: UnsafeNumber["problem"] }>();
  const reviver: Reviver = (_key, value, context) => {
    if (typeof value !== "number") return value;
    const source = context?.source ?? "";
    const problem = !Number.isFinite(value)
      ? "range"
      : INTEGER_LITERAL.test(source) && !Number.isSafeInteger(value)
        ? "integer"
        : undefined;
    if (problem === undefined) return value;
    const marker = {};
    literals.set(marker, { source, problem });
    return marker;
  };
  const document = JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]) as unknown;
  const numbers: UnsafeNumber[] = [];
  const visit = (value: unknown, pointer: string): unknown => {
    if (typeof value !== "object" || value === null) return value;
    const literal = literals.get(value);
    if (literal) {
      numbers.push({ pointer, problem: literal.problem });
      return literal.source;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const next = visit(record[key], `${pointer}/${escapeToken(key)}`);
      // defineProperty, not assignment: a "__proto__" member must stay a plain own property.
      if (next !== record[key]) Object.defineProperty(record, key, { value: next, enumerable: true });
    }
    return value;
  };
  const stringForm = visit(document, "");
  return { numbers, stringForm };
}

// RFC 6901 §3: "~" becomes "~0" and "/" becomes "~1" inside a reference token.
function escapeToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}
