import { existsSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import type { ManifestPath, Problem } from "./problem.ts";

// A manifest may only point at files inside its own app directory: a function's bundle is all its
// sandbox can read, so a path escaping the app would widen that grant without anyone noticing.
export function appFile(
  dir: string,
  path: string,
  at: ManifestPath,
  problems: Problem[],
): string | undefined {
  const full = resolve(dir, path);
  const rel = relative(dir, full);
  if (isAbsolute(path) || rel.startsWith("..") || isAbsolute(rel)) {
    problems.push({
      path: at,
      message: `"${path}" is outside the app directory; use a path relative to ${dir}`,
    });
    return undefined;
  }
  if (!existsSync(full) || !statSync(full).isFile()) {
    problems.push({ path: at, message: `file "${path}" does not exist; create it or fix the path` });
    return undefined;
  }
  return full;
}
