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
  /** package.json `license` (an SPDX expression, or another text), or the legacy `licenses` list. */
  license?: string;
  /** package.json `author`, its name when it is an object. */
  author?: string;
  /** Package URLs of the bundled packages this one depends on (Node's resolution from its dir). */
  dependsOn: string[];
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
  const read = new Map<string, { pkg: BundledPackage; deps: string[] }>();
  for (const dir of [...dirs].sort()) {
    const abs = resolve(appDir, dir);
    const { pkg, deps } = readPackage(abs, dir, functionName);
    read.set(dir, { pkg, deps });
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
  // Edges to the packages in the bundle only: a dependency esbuild left out is not in it.
  const purlAt = new Map([...read].map(([dir, r]) => [dir, r.pkg.purl]));
  for (const [dir, { pkg, deps }] of read) {
    const edges = new Set(pkg.dependsOn);
    for (const dep of deps) {
      const target = resolveFrom(dir, dep, purlAt);
      if (target !== undefined && target !== pkg.purl) edges.add(target);
    }
    const kept = byPurl.get(pkg.purl);
    if (kept !== undefined) kept.dependsOn = [...new Set([...kept.dependsOn, ...edges])].sort();
  }
  return [...byPurl.values()].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
}

/**
 * The package directory Node resolves `name` to from the package in `dir` (`node_modules/a`,
 * `node_modules/a/node_modules/b`…): its own node_modules first, then each enclosing one.
 */
function resolveFrom(dir: string, name: string, purlAt: ReadonlyMap<string, string>): string | undefined {
  let base = dir;
  for (;;) {
    const found = purlAt.get(`${base}/node_modules/${name}`);
    if (found !== undefined) return found;
    const cut = base.lastIndexOf("/node_modules/");
    if (cut < 0) return purlAt.get(`node_modules/${name}`); // the app's own node_modules
    base = base.slice(0, cut);
  }
}

/** Names of the packages the app's package.json depends on (none without one). */
export function appDependencies(appDir: string, functionName: string): Set<string> {
  const path = resolve(appDir, "package.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return new Set();
  }
  const json = parse(text, "package.json", functionName) as Record<string, unknown> | null;
  return new Set(dependencyNames(json));
}

function dependencyNames(json: Record<string, unknown> | null): string[] {
  return ["dependencies", "optionalDependencies", "peerDependencies"].flatMap((k) => {
    const list = json?.[k];
    return typeof list === "object" && list !== null ? Object.keys(list) : [];
  });
}

/** Package URL of an npm package (purl spec: the scope's `@` is percent-encoded). */
export function npmPurl(name: string, version: string): string {
  const slash = name.startsWith("@") ? name.indexOf("/") : -1;
  const namespace = slash > 0 ? `${encodeURIComponent(name.slice(0, slash))}/` : "";
  const bare = slash > 0 ? name.slice(slash + 1) : name;
  return `pkg:npm/${namespace}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

function readPackage(
  abs: string,
  dir: string,
  functionName: string,
): { pkg: BundledPackage; deps: string[] } {
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
  const license = licenseOf(json);
  const author = authorOf(json?.author);
  const deps = dependencyNames(json);
  return {
    pkg: {
      name,
      version,
      purl: npmPurl(name, version),
      ...(license === undefined ? {} : { license }),
      ...(author === undefined ? {} : { author }),
      dependsOn: [],
    },
    deps,
  };
}

function licenseOf(json: Record<string, unknown> | null): string | undefined {
  if (typeof json?.license === "string" && json.license.trim() !== "") return json.license.trim();
  const legacy = json?.licenses ?? json?.license; // [{ type: "MIT" }] or { type: "MIT" }, before SPDX
  const list = Array.isArray(legacy) ? legacy : legacy === undefined ? [] : [legacy];
  const types = list
    .map((l) => (typeof l === "object" && l !== null ? (l as { type?: unknown }).type : undefined))
    .filter((t): t is string => typeof t === "string" && t !== "");
  return types.length === 0 ? undefined : types.length === 1 ? types[0] : `(${types.join(" OR ")})`;
}

function authorOf(author: unknown): string | undefined {
  if (typeof author === "string") return author.replace(/\s*[<(].*$/, "").trim() || undefined; // "Name <mail> (url)"
  const name =
    typeof author === "object" && author !== null ? (author as { name?: unknown }).name : undefined;
  return typeof name === "string" && name.trim() !== "" ? name.trim() : undefined;
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
