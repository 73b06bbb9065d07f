import { readFileSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SUPPLY_BUILD_FAILED } from "./errors.ts";

/** One npm package whose code is in a bundle. */
export interface BundledPackage {
  /** Full package name, scope included (`@acme/util`). */
  name: string;
  version: string;
  /** Package URL: `pkg:npm/%40acme/util@1.0.0`. */
  purl: string;
  /** Subresource Integrity of the tarball, from the app's package-lock.json. */
  integrity?: string;
  /** Where the tarball came from, from the app's package-lock.json. */
  resolved?: string;
}

// The last `node_modules/<name>` or `node_modules/@scope/<name>` directory on a path is the package
// that owns the file (nested installs and pnpm's `.pnpm/x@1/node_modules/x` included).
const PACKAGE_DIR = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/]+(?=\/)/g;

/**
 * Maps the input files of a bundle (esbuild metafile paths, relative to `appDir`) to the npm packages
 * they belong to: name and version from each package's package.json, integrity and resolved URL from
 * the app's package-lock.json (v2/v3 `packages`) when it has one and it lists the installed version.
 * Deduplicated by package URL and sorted by it.
 */
export function describePackages(
  inputs: Iterable<string>,
  appDir: string,
  functionName: string,
): BundledPackage[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const path = input.split("\\").join("/");
    let end = -1;
    for (const m of path.matchAll(PACKAGE_DIR)) end = m.index + m[0].length;
    if (end > 0) dirs.add(path.slice(0, end));
  }
  const lock = readLockPackages(appDir, functionName);
  const byPurl = new Map<string, BundledPackage>();
  for (const dir of [...dirs].sort()) {
    const abs = resolve(appDir, dir);
    const pkg = readPackage(abs, dir, functionName);
    const entry = lock[relative(appDir, abs).split(sep).join("/")];
    // A lock entry for another version describes another tarball than the one installed: no hash then.
    if (entry !== undefined && entry.version === pkg.version) {
      if (typeof entry.integrity === "string") pkg.integrity = entry.integrity;
      if (typeof entry.resolved === "string") pkg.resolved = entry.resolved;
    }
    const seen = byPurl.get(pkg.purl);
    if (seen === undefined || (seen.integrity === undefined && pkg.integrity !== undefined)) {
      byPurl.set(pkg.purl, pkg);
    }
  }
  return [...byPurl.values()].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
}

/** Package URL of an npm package (purl spec: the scope's `@` is percent-encoded). */
export function npmPurl(name: string, version: string): string {
  const slash = name.startsWith("@") ? name.indexOf("/") : -1;
  const namespace = slash > 0 ? `${encodeURIComponent(name.slice(0, slash))}/` : "";
  const bare = slash > 0 ? name.slice(slash + 1) : name;
  return `pkg:npm/${namespace}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

function readPackage(abs: string, dir: string, functionName: string): BundledPackage {
  const file = `${dir}/package.json`;
  const json = readJson(resolve(abs, "package.json"), file, functionName) as Record<string, unknown> | null;
  const name = json?.name;
  const version = json?.version;
  if (typeof name !== "string" || name === "" || typeof version !== "string" || version === "") {
    throw new PalisadeError(
      SUPPLY_BUILD_FAILED,
      `Cannot list package "${dir}" in the SBOM of function "${functionName}": ${file} has no "name" and "version"; reinstall dependencies (npm ci)`,
    );
  }
  return { name, version, purl: npmPurl(name, version) };
}

type LockEntry = { version?: unknown; integrity?: unknown; resolved?: unknown };

function readLockPackages(appDir: string, functionName: string): Record<string, LockEntry | undefined> {
  const path = resolve(appDir, "package-lock.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw buildError(functionName, "package-lock.json", err);
  }
  const lock = parse(text, "package-lock.json", functionName) as { packages?: unknown } | null;
  const packages = lock?.packages;
  return typeof packages === "object" && packages !== null
    ? (packages as Record<string, LockEntry | undefined>)
    : {};
}

function readJson(path: string, shown: string, functionName: string): unknown {
  try {
    return parse(readFileSync(path, "utf8"), shown, functionName);
  } catch (err) {
    throw buildError(functionName, shown, err);
  }
}

function parse(text: string, shown: string, functionName: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw buildError(functionName, shown, err);
  }
}

function buildError(functionName: string, shown: string, err: unknown): PalisadeError {
  if (err instanceof PalisadeError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new PalisadeError(
    SUPPLY_BUILD_FAILED,
    `Cannot write the SBOM of function "${functionName}": cannot read ${shown}: ${reason}`,
    { cause: err },
  );
}
