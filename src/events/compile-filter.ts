/**
 * Content filters in EventBridge's event-pattern language, matched against an event envelope.
 * A pattern mirrors the event's shape; each leaf is a list of matchers, any of which may match
 * (OR), and every key of an object must match (AND). Where the event holds an array, the leaf
 * matches if any element does. Matchers: a literal (string, number, boolean, null), and objects
 * `{ prefix }`, `{ suffix }`, `{ "equals-ignore-case" }`, `{ numeric: [op, n, (op, n)] }` with
 * ops = < <= > >=, `{ exists }`, `{ "anything-but": literal | literals | { prefix } | { suffix } |
 * { wildcard: one or a list } }`, `{ wildcard: "*.example.com" }` (`*` any run of characters, a
 * backslash escapes a star or a backslash; no two `*` in a row) and `{ cidr: "10.0.0.0/24" }` (an
 * IPv4 or IPv6 address string in the range). An object level may hold `$or: [pattern, pattern, …]`
 * (at least two): it matches when any alternative does, together with the level's other fields.
 * What EventBridge's rule compiler (aws/event-ruler `JsonRuleCompiler`) refuses is refused here, and
 * so is a CIDR range with host bits set, which EventBridge reads as a range nobody means.
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
  inOr = false,
): (value: unknown) => boolean {
  if (!isPlainObject(pattern) || Object.keys(pattern).length === 0) {
    problems.push({ path, message: "must be a non-empty mapping of field names to patterns" });
    return () => false;
  }
  const parts = Object.entries(pattern).map(([key, sub]) => {
    const at = [...path, key];
    if (key === "$or") return compileOr(sub, at, problems);
    // EventBridge refuses matcher names as field names inside $or: there they are most likely a
    // matcher written one level too high, outside its field's list.
    if (inOr && RESERVED_IN_OR.has(key)) {
      problems.push({ path: at, message: reservedInOr(key) });
      return () => false;
    }
    return compileField(key, sub, at, problems, inOr);
  });
  return (value) => {
    const obj = isPlainObject(value) ? value : undefined;
    return parts.every((part) => part(obj));
  };
}

function compileField(
  key: string,
  sub: unknown,
  at: (string | number)[],
  problems: FilterProblem[],
  inOr: boolean,
): (obj: Record<string, unknown> | undefined) => boolean {
  if (Array.isArray(sub)) {
    const leaf = compileLeaf(sub, at, problems);
    return (obj) => {
      const present = obj !== undefined && Object.hasOwn(obj, key);
      const value = present ? obj[key] : undefined;
      if (Array.isArray(value))
        return value.some((v) => leaf(v, true)) || (value.length === 0 && leaf(undefined, true));
      return leaf(value, present);
    };
  }
  const nested = compileObject(sub, at, problems, inOr);
  return (obj) => {
    const value = obj?.[key];
    return Array.isArray(value) ? value.some(nested) : nested(value);
  };
}

// aws/event-ruler Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP: the matcher names, the numeric
// operators, and names EventBridge keeps for matchers to come.
const RESERVED_IN_OR = new Set([
  "exactly",
  "equals-ignore-case",
  "prefix",
  "suffix",
  "anything-but",
  "exists",
  "wildcard",
  "numeric",
  "cidr",
  "=",
  "<",
  "<=",
  ">",
  ">=",
  "regex",
  "not-wildcard",
  "not-equals-ignore-case",
  "date-after",
  "date-on-or-after",
  "date-before",
  "date-on-or-before",
  "in-date-range",
  "ip-address-in-range",
  "ip-address-not-in-range",
]);

function reservedInOr(key: string): string {
  return `"${key}" is a matcher name and cannot be a field inside $or; put the matcher in its field's list, e.g. { amount: [{ numeric: [">", 0] }] }`;
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
  const compiled = alternatives.map((alt, i) => compileObject(alt, [...path, i], problems, true));
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
  const usage = "takes a value, a list of values, or { prefix } / { suffix } / { wildcard }";
  if (isPlainObject(arg)) {
    const [op, text] = Object.entries(arg)[0] ?? [];
    if (Object.keys(arg).length === 1 && (op === "prefix" || op === "suffix") && typeof text === "string") {
      const test = textTest(op, text);
      return (value) => typeof value === "string" && test(value);
    }
    // EventBridge takes one wildcard or a list of them here: the value must match none.
    const texts = typeof text === "string" ? [text] : text;
    if (Object.keys(arg).length === 1 && op === "wildcard" && isStringList(texts)) {
      const tests = texts.map((t, i) =>
        compileWildcard(t, typeof text === "string" ? [...path, op] : [...path, op, i], problems),
      );
      return (value) => typeof value === "string" && tests.some((test) => test(value));
    }
    problems.push({ path, message: usage });
    return () => false;
  }
  const values = Array.isArray(arg) ? arg : [arg];
  if (values.length === 0 || values.some((v) => v !== null && typeof v === "object")) {
    problems.push({ path, message: usage });
  }
  return (value) => values.includes(value);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === "string");
}

// EventBridge's wildcard (aws/event-ruler WildcardParser): `*` is any run of characters, none
// included; `\*` and `\\` are a literal star and backslash; any other escape, and `**`, are refused.
// Matched as literal pieces in order with indexOf, never as a backtracking regex: the pattern is the
// app's, but the value is the sender's, and `*a*a*a*b` against "aaaa…" must not take polynomial time.
function compileWildcard(
  text: string,
  path: (string | number)[],
  problems: FilterProblem[],
): (s: string) => boolean {
  const pieces = splitWildcard(text);
  if (typeof pieces === "string") {
    problems.push({ path, message: pieces });
    return () => false;
  }
  return (s) => matchPieces(pieces, s);
}

// The literal runs between stars (one piece: no star); or what is wrong with the pattern.
function splitWildcard(text: string): string[] | string {
  const pieces = [""];
  for (let i = 0; i < text.length; i++) {
    let c = text[i] as string;
    if (c === "*") {
      if (text[i + 1] === "*") return 'must not hold consecutive wildcards ("**"); one * matches any run';
      pieces.push("");
      continue;
    }
    if (c === "\\") {
      const next = text[i + 1];
      if (next !== "*" && next !== "\\")
        return "a backslash may only escape * or \\ (write \\* for a literal star, \\\\ for a backslash)";
      c = next;
      i++;
    }
    pieces[pieces.length - 1] += c;
  }
  return pieces;
}

// The first piece is a prefix and the last a suffix; the ones between are taken leftmost, in order
// (taking each as early as possible never loses a match when the only operator is `*`).
function matchPieces(pieces: string[], s: string): boolean {
  const first = pieces[0] as string;
  if (pieces.length === 1) return s === first;
  const last = pieces[pieces.length - 1] as string;
  const end = s.length - last.length;
  if (end < first.length || !s.startsWith(first) || !s.endsWith(last)) return false;
  let at = first.length;
  for (let k = 1; k < pieces.length - 1; k++) {
    const piece = pieces[k] as string;
    const found = s.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

// An address in a CIDR range, IPv4 or IPv6; a string that is no address never matches. Addresses
// are read strictly (dotted-quad decimal IPv4, IPv6 without a zone): ipaddr.js alone also reads
// "10.1", "012.0.0.1" (octal) and "167772161" as 10.x addresses, which would let a sender's odd
// spelling land in a range that the same address in its usual form does not.
function compileCidr(
  arg: unknown,
  path: (string | number)[],
  problems: FilterProblem[],
): (s: string) => boolean {
  const range = typeof arg === "string" ? parseRange(arg) : undefined;
  if (!Array.isArray(range)) {
    problems.push({
      path,
      message:
        range ?? 'must be an IPv4 or IPv6 range in CIDR notation, like "10.0.0.0/24" or "2001:db8::/32"',
    });
    return () => false;
  }
  return (s) => {
    const addr = parseAddress(s);
    return addr !== undefined && addr.kind() === range[0].kind() && addr.match(range);
  };
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

// A range, undefined when the text is no CIDR, or the fix when it names an address inside its network
// (EventBridge reads "10.0.0.5/24" as 10.0.0.5–10.0.0.255, which nobody means; refused here).
function parseRange(text: string): [Address, number] | string | undefined {
  const [host, bits, extra] = text.split("/");
  const addr = parseAddress(host ?? "");
  if (addr === undefined || bits === undefined || extra !== undefined || !/^\d{1,3}$/.test(bits)) return;
  const prefix = Number(bits);
  if (prefix > (addr.kind() === "ipv4" ? 32 : 128)) return;
  const family = addr.kind() === "ipv4" ? ipaddr.IPv4 : ipaddr.IPv6;
  const network = family.networkAddressFromCIDR(text).toString();
  if (network !== addr.toString())
    return `"${text}" sets bits past its /${prefix} prefix; write "${network}/${prefix}"`;
  return [addr, prefix];
}

function parseAddress(s: string): Address | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s);
  if (s.includes("%") || !ipaddr.IPv6.isValid(s)) return undefined;
  // An embedded IPv4 tail (::ffff:10.0.0.1) is read as strictly as a plain IPv4 address.
  const tail = s.slice(s.lastIndexOf(":") + 1);
  if (tail.includes(".") && !ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
  return ipaddr.IPv6.parse(s);
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
