/**
 * Architecture check (`npm run arch`): the source of truth for dependency directions between the
 * domains of src/ (ARCHITECTURE.md mirrors ALLOWED). Scans the static imports of every .ts file under
 * src/ (tests included) and fails on any import of src/main.ts (the composition root), deep imports
 * across domains, directions not in ALLOWED, import cycles between domains or between files, and
 * imports by the sandbox's guest side (GUEST) of anything but `node:*` and the protocol.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";

/** "type": only `import type` / `export type` (erased at run time); "value": any import. */
type Edge = "value" | "type";

/**
 * Allowed directions: node → the nodes it may import. A node is a domain folder (src/<domain>/) or a
 * root module (src/<name>.ts). Everyone may import src/errors.ts. Tests may value-import where only
 * types are allowed (to build fixtures), and may import test/ helpers outside src/.
 */
const ALLOWED: Record<string, Record<string, Edge>> = {
  admin: {
    audit: "value",
    bus: "value",
    detect: "value",
    events: "value",
    gateway: "value",
    guard: "value",
    manifest: "value",
    observe: "type",
    schema: "value",
    security: "type",
    signals: "type",
  },
  cli: {
    admin: "value",
    "app-files": "value",
    "app-secrets": "value",
    cost: "value",
    detect: "value",
    "invoke-once": "value",
    "open-store": "type",
    "prepare-app": "type",
    "scale-out": "value",
    audit: "value",
    bus: "value",
    events: "value",
    gateway: "value",
    guard: "value",
    manifest: "value",
    observe: "value",
    schema: "value",
    security: "value",
    supply: "value",
    verifiable: "value",
  },
  main: {
    admin: "value",
    "app-admin": "value",
    "app-keys": "value",
    "app-dispatcher": "value",
    "app-costs": "value",
    cost: "value",
    detection: "value",
    "signal-sinks": "value",
    sinks: "value",
    detect: "value",
    signals: "value",
    "app-files": "value",
    closers: "value",
    "data-path": "value",
    "function-runtime": "value",
    housekeeping: "value",
    "invoke-once": "value",
    "open-store": "value",
    "prepare-app": "value",
    "scale-out": "value",
    audit: "value",
    bus: "value",
    cli: "value",
    events: "value",
    gateway: "value",
    kv: "value",
    manifest: "value",
    observe: "value",
    runtime: "value",
    schema: "value",
    security: "value",
    supply: "value",
  },
  "app-secrets": { audit: "value", security: "value" },
  "app-files": {
    "app-secrets": "value",
    "open-store": "value",
    audit: "value",
    bus: "value",
    kv: "value",
    manifest: "type",
    observe: "type",
    security: "value",
    supply: "value",
  },
  "function-runtime": {
    "signal-sinks": "value",
    signals: "type",
    "app-files": "value",
    audit: "value",
    kv: "value",
    manifest: "type",
    observe: "type",
    runtime: "value",
    security: "value",
    supply: "value",
  },
  "prepare-app": {
    "app-files": "value",
    "function-runtime": "value",
    manifest: "value",
    schema: "value",
    supply: "value",
  },
  "invoke-once": {
    "app-files": "value",
    "function-runtime": "value",
    "prepare-app": "value",
    events: "value",
    observe: "value",
    runtime: "type",
    schema: "value",
  },
  "app-dispatcher": {
    signals: "type",
    "data-path": "type",
    audit: "value",
    bus: "value",
    events: "value",
    manifest: "value",
    observe: "type",
    runtime: "value",
  },
  "signal-sinks": { audit: "value", bus: "value", observe: "type", signals: "value" },
  "app-admin": {
    admin: "value",
    "app-files": "value",
    audit: "type",
    "function-runtime": "type",
    gateway: "value",
    manifest: "value",
    observe: "value",
    "open-store": "type",
    runtime: "type",
    "scale-out": "type",
    security: "value",
    signals: "type",
  },
  "app-keys": {
    "app-files": "value",
    audit: "value",
    manifest: "type",
    observe: "type",
    "scale-out": "type",
    security: "value",
  },
  "app-costs": {
    audit: "value",
    bus: "type",
    cost: "value",
    "data-path": "type",
    manifest: "type",
    observe: "type",
    signals: "type",
  },
  cost: { bus: "type", events: "value", manifest: "type", signals: "type" },
  detection: {
    bus: "type",
    detect: "value",
    "detection-response": "value",
    events: "value",
    // The emit graph's worst case per type sets each root's budget.
    manifest: "value",
    observe: "type",
    signals: "type",
  },
  "detection-response": {
    "data-path": "type",
    audit: "value",
    detect: "value",
    manifest: "type",
    observe: "type",
    signals: "type",
  },
  detect: { bus: "type", "egress-destination": "value", manifest: "type", signals: "type" },
  signals: {},
  "open-store": { bus: "value", events: "value", "group-commit": "type", manifest: "value" },
  "scale-out": {
    bus: "value",
    gateway: "value",
    manifest: "type",
    observe: "value",
    "open-store": "type",
    security: "value",
  },
  housekeeping: { bus: "type", manifest: "type", observe: "type", runtime: "type" },
  "data-path": {
    bus: "type",
    events: "value",
    manifest: "value",
    observe: "value",
    runtime: "type",
    schema: "type",
    security: "value",
  },
  gateway: { events: "value", manifest: "type", observe: "type", verifiable: "value" },
  bus: {
    events: "value",
    "group-commit": "value",
    "jetstream-ready": "value",
    "jetstream-scan": "value",
    manifest: "type",
  },
  runtime: { "egress-destination": "value", events: "type", manifest: "type" },
  sinks: { events: "value", manifest: "type", runtime: "value" },
  events: { schema: "value", verifiable: "value" },
  verifiable: {},
  client: { types: "type", verifiable: "value" },
  manifest: { events: "value", schema: "value", verifiable: "value" },
  supply: { manifest: "type" },
  guard: { events: "value", manifest: "value", schema: "value" },
  audit: { supply: "value" },
  security: { "jetstream-ready": "value" },
  kv: { "group-commit": "value" },
  "group-commit": {},
  "egress-destination": {},
  "jetstream-scan": {},
  "jetstream-ready": {},
  closers: {},
  schema: {},
  observe: { "jetstream-scan": "value" },
  errors: {},
  types: {},
};
const SHARED = "errors";
/** The composition root: it imports everything, so nothing in src/ may import it (tests and bench may). */
const ROOT_MODULE = "main";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = resolve(ROOT, "src");
const show = (abs: string): string => relative(ROOT, abs).split(sep).join("/");
const isTest = (file: string): boolean => file.endsWith(".test.ts");
/** Domain folder or root-module name of a file under src/; undefined outside src/. */
function nodeOf(abs: string): string | undefined {
  const rel = relative(SRC, abs);
  if (rel.startsWith("..")) return undefined;
  const parts = rel.split(sep);
  return parts.length === 1 ? rel.replace(/\.ts$/, "") : parts[0];
}

// Comments and string/template literals are matched (and skipped) so import-like text inside them
// is not taken for an import; group 1 marks `import type`/`export type`, group 3 is the specifier.
const TOKENS =
  /\/\*[\s\S]*?\*\/|\/\/[^\n]*|`(?:\\[\s\S]|[^\\`])*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|(?<![\w$.])(?:import|export)\s+(type\s+)?(?:[^;"'`]*?\s+from\s*)?(["'])([^"'\n]+)\2/g;

interface Import {
  from: string;
  to: string;
  spec: string;
  typeOnly: boolean;
}

const files = readdirSync(SRC, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts"))
  .map((f) => resolve(SRC, f))
  .sort();
const imports: Import[] = [];
const violations: string[] = [];
const report = (i: Import, reason: string, fix: string): void => {
  violations.push(`${show(i.from)}: imports ${i.spec} — ${reason}; ${fix}`);
};

/**
 * The guest side of the sandbox (src/runtime/guest/) runs inside the function's process, which may
 * read only its bundle and the runner: it imports only `node:*` and the protocol (types, erased).
 */
const GUEST = resolve(SRC, "runtime", "guest");
const GUEST_MAY_IMPORT = new Set([resolve(GUEST, "protocol.ts")]);
const inGuest = (abs: string): boolean => !relative(GUEST, abs).startsWith("..");

for (const from of files) {
  for (const m of readFileSync(from, "utf8").matchAll(TOKENS)) {
    const spec = m[3];
    if (spec === undefined) continue;
    const relativeSpec = spec.startsWith(".") || spec.startsWith("/");
    if (inGuest(from) && !isTest(from) && !spec.startsWith("node:")) {
      const to = relativeSpec ? resolve(dirname(from), spec) : spec;
      if (!GUEST_MAY_IMPORT.has(to) || to === from) {
        const i = { from, to, spec, typeOnly: m[1] !== undefined };
        report(i, "the sandbox's guest side may import only node:* and the protocol", "inline it or move it");
      }
    }
    if (!relativeSpec) continue;
    const imp = { from, to: resolve(dirname(from), spec), spec, typeOnly: m[1] !== undefined };
    if (!existsSync(imp.to)) report(imp, "does not resolve to a file", "fix the path");
    else if (nodeOf(imp.to) !== undefined) imports.push(imp);
    else if (!isTest(from)) report(imp, "reaches outside src/", "only tests may import test/ helpers");
  }
}

const domainEdges = new Map<string, Set<string>>();
for (const i of imports) {
  const a = nodeOf(i.from) ?? "";
  const b = nodeOf(i.to) ?? "";
  if (a === b) continue;
  domainEdges.set(a, (domainEdges.get(a) ?? new Set()).add(b));
  const target = show(i.to).slice("src/".length);
  const rootModule = !target.includes("/");
  if (!rootModule && target !== `${b}/index.ts`) {
    report(i, `deep import into ${b}/`, `import from ${b}/index.ts (export it there if needed)`);
  }
  if (b === ROOT_MODULE) {
    report(
      i,
      `${ROOT_MODULE}.ts is the composition root`,
      "import from the module that owns it, or pass it in from main",
    );
    continue;
  }
  if (!(a in ALLOWED) || !(b in ALLOWED)) {
    report(i, `"${a in ALLOWED ? b : a}" is not a known domain`, "add it to ALLOWED and ARCHITECTURE.md");
    continue;
  }
  const edge = b === SHARED ? "value" : ALLOWED[a]?.[b];
  if (edge === undefined) {
    report(i, `${a} → ${b} is not an allowed direction`, "invert it (pass it in from main) or move the code");
  } else if (edge === "type" && !i.typeOnly && !isTest(i.from)) {
    report(i, `${a} may only import types from ${b}`, "use `import type`, or pass the value in from main");
  }
}

/** Every distinct cycle reachable in `graph`, each as a closed path starting at its smallest node. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found = new Map<string, string[]>();
  const visit = (n: string): void => {
    state.set(n, "open");
    stack.push(n);
    for (const next of graph.get(n) ?? []) {
      if (state.get(next) === "open") {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.indexOf([...loop].sort()[0] ?? next);
        const path = [...loop.slice(start), ...loop.slice(0, start)];
        found.set(path.join("\0"), [...path, path[0] ?? next]);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return [...found.values()];
}

for (const loop of cycles(domainEdges)) {
  const first = imports.find((i) => nodeOf(i.from) === loop[0] && nodeOf(i.to) === loop[1]);
  if (first) report(first, `domain cycle ${loop.join(" → ")}`, "invert one edge (pass an interface in)");
}
const fileEdges = new Map<string, Set<string>>();
for (const i of imports) fileEdges.set(i.from, (fileEdges.get(i.from) ?? new Set()).add(i.to));
for (const loop of cycles(fileEdges)) {
  const first = imports.find((i) => i.from === loop[0] && i.to === loop[1]);
  if (first) report(first, `file cycle ${loop.map(show).join(" → ")}`, "extract the shared part");
}

if (violations.length > 0) {
  for (const v of violations) console.error(v);
  console.error(`architecture: ${violations.length} violation(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`architecture: ${files.length} files, ${imports.length} imports, ok`);
