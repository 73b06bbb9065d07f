/**
 * What a function hands the host to store or pass on (emitted data, kv values) is input, as untrusted
 * as an ingress body: it passes the same guards. Prototype keys (`__proto__`, `constructor.prototype`)
 * are refused wherever they are, so no later merge or spread of the value can poison a prototype, and
 * nesting is capped, so no later recursive walk (JSON, schema validation, redaction) can exhaust the
 * stack. Sizes are checked by the caller against the function's limits.
 */
import { PalisadeError } from "../errors.ts";
import { RUNTIME_BAD_CALL } from "./errors.ts";

/** Deepest nesting of arrays and objects, as at ingress (gateway MAX_JSON_DEPTH). */
export const MAX_DATA_DEPTH = 32;

/** Throws RUNTIME_BAD_CALL naming the problem when `value` nests too deep or carries a prototype key. */
export function checkData(value: unknown, what: string): void {
  const problem = findProblem(value, 0);
  if (problem !== undefined)
    throw new PalisadeError(RUNTIME_BAD_CALL, `${what} ${problem}; send plain JSON data`, { status: 400 });
}

function findProblem(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (depth >= MAX_DATA_DEPTH) return `nests deeper than ${MAX_DATA_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = findProblem(item, depth + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (key === "__proto__") return 'contains a forbidden "__proto__" key';
    if (
      key === "constructor" &&
      typeof item === "object" &&
      item !== null &&
      Object.hasOwn(item, "prototype")
    )
      return 'contains a forbidden "constructor.prototype" key';
    const problem = findProblem(item, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
