import { lstatSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { RUNTIME_LOAD_FAILED } from "./errors.ts";

/**
 * Refuses a bundle that is, or sits next to, a symbolic link. Node's permission model checks the
 * path a function names, then the kernel follows any symlink on it, even to a target outside every
 * grant (a documented limitation; CVE-2025-55130 is one way it bit). So nothing a sandbox is granted
 * may contain one: the bundle file, its directory, and everything below that directory (lstat only,
 * never following a link).
 */
export function assertBundleHasNoSymlinks(bundlePath: string): void {
  const dir = dirname(bundlePath);
  try {
    refuseLink(bundlePath, bundlePath);
    refuseLink(bundlePath, dir);
    walk(bundlePath, dir);
  } catch (err) {
    if (err instanceof PalisadeError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new PalisadeError(RUNTIME_LOAD_FAILED, `Cannot check function bundle "${bundlePath}": ${reason}`, {
      cause: err,
    });
  }
}

function walk(bundlePath: string, dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (refuseLink(bundlePath, path)) walk(bundlePath, path);
  }
}

/** Throws if `path` is a symbolic link; returns whether it is a directory. */
function refuseLink(bundlePath: string, path: string): boolean {
  const stats = lstatSync(path);
  if (stats.isSymbolicLink()) {
    throw new PalisadeError(
      RUNTIME_LOAD_FAILED,
      `Cannot load function bundle "${bundlePath}": "${path}" is a symbolic link, and bundles may not contain symbolic links`,
    );
  }
  return stats.isDirectory();
}
