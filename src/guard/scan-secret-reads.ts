/**
 * A static scan for the secrets a function reads: every `secrets.get(…)` call (so `ctx.secrets.get`
 * and a destructured `secrets.get`) in the handler module and in the modules it imports by relative
 * path inside the app directory. A string literal argument names the secret; anything else (a
 * variable, a template with `${…}`) cannot be verified. Comments are skipped; calls through an alias
 * (`const s = ctx.secrets; s.get(…)`) or a computed member are not seen.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

export interface SecretRead {
  /** The secret's name; undefined when the argument is not a string literal. */
  readonly name?: string;
  /** Absolute path of the module. */
  readonly file: string;
  readonly line: number;
}

const MAX_FILES = 200;
const COMMENT_OR_STRING =
  /\/\*[\s\S]*?\*\/|\/\/[^\n]*|`(?:\\[\s\S]|[^\\`])*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g;
const SECRET_GET = /(?<![\w$])secrets\s*\??\.\s*get\s*\(\s*/g;
const LITERAL = /^(?:"((?:\\.|[^"\\\n])*)"|'((?:\\.|[^'\\\n])*)'|`([^`$\\]*)`)\s*[,)]/;
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"'\n]+)["']/g;
const EXTENSIONS = ["", ".ts", ".mts", ".js", ".mjs", "/index.ts", "/index.js"];

/** Every `secrets.get` call reachable from `handlerPath` through relative imports inside `appDir`. */
export function scanSecretReads(handlerPath: string, appDir: string): SecretRead[] {
  const reads: SecretRead[] = [];
  const seen = new Set<string>([handlerPath]);
  const queue = [handlerPath];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const code = readCode(file);
    if (code === undefined) continue;
    reads.push(...readsIn(code, file));
    for (const m of code.matchAll(IMPORT)) {
      const target = resolveImport(file, m[1] as string, appDir);
      if (target === undefined || seen.has(target) || seen.size >= MAX_FILES) continue;
      seen.add(target);
      queue.push(target);
    }
  }
  return reads;
}

function readsIn(code: string, file: string): SecretRead[] {
  const out: SecretRead[] = [];
  for (const m of code.matchAll(SECRET_GET)) {
    const after = m.index + m[0].length;
    const literal = LITERAL.exec(code.slice(after, after + 200));
    const name = literal ? (literal[1] ?? literal[2] ?? literal[3]) : undefined;
    const line = code.slice(0, m.index).split("\n").length;
    out.push(name === undefined ? { file, line } : { name, file, line });
  }
  return out;
}

// Comments become blanks of the same shape, so line numbers stay right and commented-out calls vanish.
function readCode(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  return text.replace(COMMENT_OR_STRING, (token) =>
    token.startsWith("/*") || token.startsWith("//") ? token.replace(/[^\n]/g, " ") : token,
  );
}

function resolveImport(from: string, spec: string, appDir: string): string | undefined {
  const base = resolve(dirname(from), spec);
  const candidates = [...EXTENSIONS.map((e) => base + e), base.replace(/\.(m?)js$/, ".$1ts")];
  for (const file of candidates) {
    const rel = relative(appDir, file);
    if (rel.startsWith("..") || rel.includes("node_modules")) return undefined;
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
  }
  return undefined;
}
