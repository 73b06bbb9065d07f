/**
 * Content filters in EventBridge's event-pattern language, matched against an event envelope.
 * A pattern mirrors the event's shape; each leaf is a list of matchers, any of which may match
 * (OR), and every key of an object must match (AND). Where the event holds an array, the leaf
 * matches if any element does. Matchers: a literal (string, number, boolean, null), and objects
 * `{ prefix }`, `{ suffix }`, `{ "equals-ignore-case" }`, `{ "anything-but": literal | literals |
 * { prefix } | { suffix } | { wildcard } }`, `{ numeric: [op, n, (op, n)] }` with ops = < <= > >=,
 * `{ exists }`, `{ wildcard: "*.example.com" }` (`*` any run of characters, a backslash escapes a
 * star or a backslash; no two `*` in a row) and `{ cidr: "10.0.0.0/24" }` (an IPv4 or IPv6 address
 * string in the range). An object level may hold `$or: [pattern, pattern, …]` (at least two): it
 * matches when any alternative does, together with the level's other fields.
 */

import ipaddr from "ipaddr.js";

/** A compiled filter: true when the event passes. */
export type EventFilter = (event: unknown) => boolean;

/** One mistake in a pattern: where (path under `filter`) and what. */
export interface FilterProblem {
  path: (string | number)[];
  message: string;
}

type Leaf = (value: unknown, present: boolean) => boolean;
const NUMERIC_OPS = new Set(["=", "<", "<=", ">", ">="]);

/** Compiles a pattern once; returns the problems instead when it is not a valid pattern. */
export function compileFilter(pattern: unknown): EventFilter | FilterProblem[] {
  const problems: FilterProblem[] = [];
  const match = compileObject(pattern, [], problems);
  return problems.length > 0 ? problems : (event) => match(event);
}

function compileObject(
  pattern: unknown,
  path: (string | number)[],
  problems: FilterProblem[],
): (value: unknown) => boolean {
  if (!isPlainObject(pattern) || Object.keys(pattern).length === 0) {
    problems.push({ path, message: "must be a non-empty mapping of field names to patterns" });
    return () => false;
  }
  const parts = Object.entries(pattern).map(([key, sub]) => {
    const at = [...path, key];
    if (key === "$or") return compileOr(sub, at, problems);
    if (Array.isArray(sub)) {
      const leaf = compileLeaf(sub, at, problems);
      return (obj: Record<string, unknown> | undefined) => {
        const present = obj !== undefined && Object.hasOwn(obj, key);
        const value = present ? obj[key] : undefined;
        if (Array.isArray(value))
          return value.some((v) => leaf(v, true)) || (value.length === 0 && leaf(undefined, true));
        return leaf(value, present);
      };
    }
    const nested = compileObject(sub, at, problems);
    return (obj: Record<string, unknown> | undefined) => {
      const value = obj?.[key];
      return Array.isArray(value) ? value.some(nested) : nested(value);
    };
  });
  return (value) => {
    const obj = isPlainObject(value) ? value : undefined;
    return parts.every((part) => part(obj));
  };
}

// `$or` alternatives are patterns of the same level: each sees the same object.
function compileOr(
  alternatives: unknown,
  path: (string | number)[],
  problems: FilterProblem[],
): (obj: Record<string, unknown> | undefined) => boolean {
  if (!Array.isArray(alternatives) || alternatives.length < 2) {
    problems.push({ path, message: "must list at least two patterns, any of which may match" });
    return () => false;
  }
  const compiled = alternatives.map((alt, i) => compileObject(alt, [...path, i], problems));
  return (obj) => compiled.some((match) => match(obj));
}

function compileLeaf(matchers: unknown[], path: (string | number)[], problems: FilterProblem[]): Leaf {
  if (matchers.length === 0) problems.push({ path, message: "must list at least one value or matcher" });
  const compiled = matchers.map((m, i) => compileMatcher(m, [...path, i], problems));
  return (value, present) => compiled.some((m) => m(value, present));
}

function compileMatcher(m: unknown, path: (string | number)[], problems: FilterProblem[]): Leaf {
  if (m === null || typeof m === "string" || typeof m === "number" || typeof m === "boolean") {
    return (value, present) => present && value === m;
  }
  if (!isPlainObject(m) || Object.keys(m).length !== 1) {
    problems.push({ path, message: 'must be a value or one matcher such as { prefix: "x" }' });
    return () => false;
  }
  const [op, arg] = Object.entries(m)[0] as [string, unknown];
  const at = [...path, op];
  switch (op) {
    case "prefix":
    case "suffix":
    case "equals-ignore-case": {
      if (typeof arg !== "string") break;
      const test = textTest(op, arg);
      return (value, present) => present && typeof value === "string" && test(value);
    }
    case "wildcard": {
      if (typeof arg !== "string") break;
      const test = compileWildcard(arg, at, problems);
      return (value, present) => present && typeof value === "string" && test(value);
    }
    case "cidr": {
      const test = compileCidr(arg, at, problems);
      return (value, present) => present && typeof value === "string" && test(value);
    }
    case "exists":
      if (typeof arg !== "boolean") break;
      return (_value, present) => present === arg;
    case "numeric": {
      const test = compileNumeric(arg, at, problems);
      return (value, present) => present && typeof value === "number" && test(value);
    }
    case "anything-but": {
      const inner = compileAnythingBut(arg, at, problems);
      return (value, present) => present && !inner(value);
    }
    default:
      problems.push({
        path: at,
        message: `unknown matcher "${op}"; use prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, cidr or exists`,
      });
      return () => false;
  }
  problems.push({ path: at, message: op === "exists" ? "must be true or false" : "must be a string" });
  return () => false;
}

function textTest(op: string, arg: string): (s: string) => boolean {
  if (op === "prefix") return (s) => s.startsWith(arg);
  if (op === "suffix") return (s) => s.endsWith(arg);
  const lower = arg.toLowerCase();
  return (s) => s.toLowerCase() === lower;
}

function compileAnythingBut(
  arg: unknown,
  path: (string | number)[],
  problems: FilterProblem[],
): (value: unknown) => boolean {
  if (isPlainObject(arg)) {
    const [op, text] = Object.entries(arg)[0] ?? [];
    if (Object.keys(arg).length === 1 && (op === "prefix" || op === "suffix") && typeof text === "string") {
      const test = textTest(op, text);
      return (value) => typeof value === "string" && test(value);
    }
    if (Object.keys(arg).length === 1 && op === "wildcard" && typeof text === "string") {
      const test = compileWildcard(text, [...path, op], problems);
      return (value) => typeof value === "string" && test(value);
    }
    problems.push({
      path,
      message: "takes a value, a list of values, or { prefix } / { suffix } / { wildcard }",
    });
    return () => false;
  }
  const values = Array.isArray(arg) ? arg : [arg];
  if (values.length === 0 || values.some((v) => v !== null && typeof v === "object")) {
    problems.push({
      path,
      message: "takes a value, a list of values, or { prefix } / { suffix } / { wildcard }",
    });
  }
  return (value) => values.includes(value);
}

// EventBridge's wildcard: `*` is any run of characters (none included), `\*` and `\\` are a literal
// star and backslash; `**` is refused, as EventBridge does (it means nothing more than `*`).
function compileWildcard(
  text: string,
  path: (string | number)[],
  problems: FilterProblem[],
): (s: string) => boolean {
  let source = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "\\") {
      const next = text[i + 1];
      if (next !== "*" && next !== "\\") {
        problems.push({
          path,
          message: "a backslash may only escape * or \\ (write \\* for a literal star)",
        });
        return () => false;
      }
      source += `\\${next}`;
      i++;
    } else if (c === "*") {
      if (text[i + 1] === "*") {
        problems.push({ path, message: 'must not hold consecutive wildcards ("**"); one * matches any run' });
        return () => false;
      }
      source += "[\\s\\S]*";
    } else source += c.replace(/[.+?^${}()|[\]\\/]/g, "\\$&");
  }
  const re = new RegExp(`^${source}$`, "u");
  return (s) => re.test(s);
}

// An address in a CIDR range, IPv4 or IPv6 (ipaddr.js); a string that is no address never matches.
function compileCidr(
  arg: unknown,
  path: (string | number)[],
  problems: FilterProblem[],
): (s: string) => boolean {
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    if (typeof arg !== "string") throw new Error("not a string");
    range = ipaddr.parseCIDR(arg);
  } catch {
    problems.push({
      path,
      message: 'must be an IPv4 or IPv6 range in CIDR notation, like "10.0.0.0/24" or "2001:db8::/32"',
    });
    return () => false;
  }
  return (s) => {
    if (!ipaddr.isValid(s)) return false;
    const addr = ipaddr.parse(s);
    return addr.kind() === range[0].kind() && addr.match(range);
  };
}

function compileNumeric(
  arg: unknown,
  path: (string | number)[],
  problems: FilterProblem[],
): (n: number) => boolean {
  const ok =
    Array.isArray(arg) &&
    (arg.length === 2 || arg.length === 4) &&
    arg.every((x, i) =>
      i % 2 === 0 ? typeof x === "string" && NUMERIC_OPS.has(x) : typeof x === "number" && Number.isFinite(x),
    );
  if (!ok) {
    problems.push({
      path,
      message:
        'must be [op, number] or [op, number, op, number] with op one of =, <, <=, >, >= (e.g. [">", 0, "<=", 5])',
    });
    return () => false;
  }
  const tests: ((n: number) => boolean)[] = [];
  for (let i = 0; i < arg.length; i += 2) tests.push(comparison(arg[i] as string, arg[i + 1] as number));
  return (n) => tests.every((t) => t(n));
}

function comparison(op: string, bound: number): (n: number) => boolean {
  switch (op) {
    case "=":
      return (n) => n === bound;
    case "<":
      return (n) => n < bound;
    case "<=":
      return (n) => n <= bound;
    case ">":
      return (n) => n > bound;
    default:
      return (n) => n >= bound;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether an event type matches a subscription: an exact name or `prefix.*`. */
export function matchesTypePattern(pattern: string, type: string): boolean {
  return pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}
