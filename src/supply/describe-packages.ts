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
  /**
   * What package.json says of its license, as written: its `license` (an SPDX expression or another
   * text), or each entry of the legacy `licenses` list (or `license` object) before SPDX expressions.
   */
  licenses?: string[];
  /** package.json `author`, its name when it is an object. */
  author?: string;
  /** Package URLs of the bundled packages this one depends on (Node's resolution from its dir). */
  dependsOn: string[];
}

// The last `node_modules/<name>` or `node_modules/@scope/<name>` directory on a path is the package
// that owns the file (nested installs and pnpm's `.pnpm/x@1/node_modules/x` included).
const PACKAGE_DIR = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/]+(?=\/)/g;

/** The input files of a bundle as esbuild's metafile lists them, paths relative to the app. */
export type BundleInputs = Readonly<
  Record<string, { readonly imports: readonly { readonly path: string; readonly external?: boolean }[] }>
>;

/** The npm packages in a bundle, and which of them the function's own code imports. */
export interface BundleContents {
  /** Deduplicated by package URL and sorted by it. */
  packages: BundledPackage[];
  /** Package URLs of the packages the function's own files import, sorted. */
  direct: string[];
}

/**
 * Maps the input files of a bundle to the npm packages they belong to: name and version from each
 * package's package.json, integrity and resolved URL from the app's package-lock.json (v2/v3
 * `packages`) when it has one and it lists the installed version. A package depends on the bundled
 * packages its package.json names (resolved as Node does, from its directory) and on those its files
 * import in the bundle (declared or not); the function on the packages its own files import.
 */
export function describePackages(inputs: BundleInputs, appDir: string, functionName: string): BundleContents {
  const dirs = new Set(Object.keys(inputs).flatMap((file) => packageDirOf(file) ?? []));
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
  const edges = dependencyEdges(inputs, read);
  for (const pkg of byPurl.values()) pkg.dependsOn = [...(edges.get(pkg.purl) ?? [])].sort();
  return {
    packages: [...byPurl.values()].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0)),
    direct: [...(edges.get(FUNCTION) ?? [])].sort(),
  };
}

/** The function's own files (and the function API) belong to no package: they are the function. */
const FUNCTION = "";

/** The package directory that owns a metafile path; undefined for the app's own files. */
function packageDirOf(file: string): string | undefined {
  const path = file.split("\\").join("/");
  let end = -1;
  for (const m of path.matchAll(PACKAGE_DIR)) end = m.index + m[0].length;
  return end > 0 ? path.slice(0, end) : undefined;
}

/**
 * Package URL (FUNCTION for the function) → the package URLs it depends on, within the bundle only:
 * a dependency esbuild left out is not in it.
 */
function dependencyEdges(
  inputs: BundleInputs,
  read: ReadonlyMap<string, { pkg: BundledPackage; deps: string[] }>,
): Map<string, Set<string>> {
  const purlAt = new Map([...read].map(([dir, r]) => [dir, r.pkg.purl]));
  const edges = new Map<string, Set<string>>();
  const add = (from: string | undefined, to: string | undefined): void => {
    if (from === undefined || to === undefined || from === to) return;
    edges.set(from, (edges.get(from) ?? new Set()).add(to));
  };
  for (const [dir, { pkg, deps }] of read) {
    for (const dep of deps) add(pkg.purl, resolveFrom(dir, dep, purlAt));
  }
  for (const [file, { imports }] of Object.entries(inputs)) {
    const fromDir = packageDirOf(file);
    const from = fromDir === undefined ? FUNCTION : purlAt.get(fromDir);
    for (const { path, external } of imports) {
      const toDir = external === true ? undefined : packageDirOf(path);
      add(from, toDir === undefined ? undefined : purlAt.get(toDir));
    }
  }
  return edges;
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
  const licenses = licensesOf(json);
  const author = authorOf(json?.author);
  const deps = dependencyNames(json);
  return {
    pkg: {
      name,
      version,
      purl: npmPurl(name, version),
      ...(licenses.length === 0 ? {} : { licenses }),
      ...(author === undefined ? {} : { author }),
      dependsOn: [],
    },
    deps,
  };
}

function licensesOf(json: Record<string, unknown> | null): string[] {
  if (typeof json?.license === "string") return json.license.trim() === "" ? [] : [json.license.trim()];
  // Before SPDX expressions: `licenses: [{ type: "MIT", url }]`, or `license: { type, url }`.
  const legacy = json?.licenses ?? json?.license;
  const list: unknown[] = Array.isArray(legacy) ? legacy : legacy === undefined ? [] : [legacy];
  return list
    .map((l) => (typeof l === "object" && l !== null ? (l as { type?: unknown }).type : l))
    .filter((t): t is string => typeof t === "string" && t.trim() !== "")
    .map((t) => t.trim());
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
