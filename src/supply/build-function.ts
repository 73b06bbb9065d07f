import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { build, version as esbuildVersion, type Metafile, type Plugin } from "esbuild";
import { PalisadeError } from "../errors.ts";
import { createSbom } from "./create-sbom.ts";
import { type BundledPackage, describePackages } from "./describe-packages.ts";
import { SUPPLY_BUILD_FAILED } from "./errors.ts";
import {
  ATTESTATION_FILE,
  BUNDLE_FILE,
  isSafeFunctionName,
  SBOM_FILE,
  sha256Hex,
  writeFileAtomic,
} from "./function-files.ts";

/** Paths may be relative to the working directory. */
export interface BuildFunctionOptions {
  /** Function name; also the name of its directory under `outDir`. */
  name: string;
  /** Entry file of the handler. */
  handlerPath: string;
  /** App directory: esbuild's working directory and where package-lock.json is read. */
  appDir: string;
  /** Build output root; the function goes to `<outDir>/<name>/`. */
  outDir: string;
  /** The app's name, its SBOM's supplier and author. @default the app directory's name */
  appName?: string;
}

/** A built, not yet signed, function directory. */
export interface BuiltFunction {
  name: string;
  /** `<outDir>/<name>`, absolute. */
  dir: string;
  bundlePath: string;
  sbomPath: string;
  /** SHA-256 (hex) of the bundle. */
  sha256: string;
  /** The npm packages in the bundle, as listed in the SBOM. */
  packages: BundledPackage[];
}

/**
 * Bundles a function's handler and everything it imports into `<outDir>/<name>/index.mjs` (one ES
 * module, Node built-ins left as imports) and writes its CycloneDX SBOM beside it. Any attestation
 * of an earlier build is removed: the directory is built but unsigned until signFunction runs.
 * The same sources and layout give the same bundle, and the same SBOM but for its timestamp (set
 * SOURCE_DATE_EPOCH for that too).
 */
export async function buildFunction(opts: BuildFunctionOptions): Promise<BuiltFunction> {
  const { name } = opts;
  if (!isSafeFunctionName(name)) {
    throw new PalisadeError(
      SUPPLY_BUILD_FAILED,
      `Cannot build function "${name}": the name is not a plain directory name`,
    );
  }
  const appDir = resolve(opts.appDir);
  const dir = resolve(opts.outDir, name);
  const bundlePath = join(dir, BUNDLE_FILE);
  const { code, metafile } = await bundle(name, resolve(opts.handlerPath), appDir, bundlePath);
  const { packages, direct } = describePackages(metafile.inputs, appDir, name);
  const sha256 = sha256Hex(code);
  const sbom = createSbom(name, sha256, packages, {
    appName: opts.appName ?? basename(appDir),
    palisadeVersion: palisadeVersion(),
    esbuildVersion,
    direct,
  });

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(join(dir, ATTESTATION_FILE), { force: true });
  writeFileAtomic(bundlePath, code);
  const sbomPath = join(dir, SBOM_FILE);
  writeFileAtomic(sbomPath, `${JSON.stringify(sbom, null, 2)}\n`);
  return { name, dir, bundlePath, sbomPath, sha256, packages };
}

/** This Palisade's version, from its package.json: the SBOM names it as a tool. */
function palisadeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: unknown;
  };
  return typeof pkg.version === "string" ? pkg.version : "0.0.0";
}

// A handler imports the function API as "palisade" (DESIGN §4): types, and `defineFunction`, a
// value. Whatever copy of Palisade the app has installed (or none), the bundle inlines this
// platform's own src/types.ts, which imports nothing, so the bundle stays the one file its sandbox
// may read. It is read as source (not imported): supply depends on no other domain for it. Its
// namespace keeps the platform's install path out of the bundle, which depends only on the app.
const FUNCTION_API_FILE = new URL("../types.ts", import.meta.url);
const FUNCTION_API_PLUGIN: Plugin = {
  name: "palisade-function-api",
  setup(b) {
    b.onResolve({ filter: /^palisade$/ }, () => ({ path: "palisade", namespace: "palisade" }));
    b.onLoad({ filter: /^palisade$/, namespace: "palisade" }, () => ({
      contents: readFileSync(FUNCTION_API_FILE, "utf8"),
      loader: "ts",
    }));
  },
};

const CJS_REQUIRE_BANNER =
  'import { createRequire as __palisadeCreateRequire } from "node:module";\n' +
  "const require = __palisadeCreateRequire(import.meta.url);";

async function bundle(
  name: string,
  entry: string,
  appDir: string,
  outfile: string,
): Promise<{ code: Uint8Array; metafile: Metafile }> {
  try {
    const result = await build({
      entryPoints: [entry],
      outfile,
      // Paths in the bundle's comments and in the metafile are relative to the app, not to the
      // caller's working directory, so the output depends only on the app.
      absWorkingDir: appDir,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node26",
      // The map is inlined below with app-relative sources and no source text (sourcesContent).
      sourcemap: "external",
      sourcesContent: false,
      plugins: [FUNCTION_API_PLUGIN],
      // A CommonJS package in an ES module bundle still calls require() for Node built-ins (yaml's
      // require("process")); esbuild's shim uses a `require` in scope, so the bundle makes one.
      banner: { js: CJS_REQUIRE_BANNER },
      metafile: true,
      write: false,
      logLevel: "silent",
    });
    const code = result.outputFiles.find((f) => f.path === outfile)?.text;
    const map = result.outputFiles.find((f) => f.path === `${outfile}.map`)?.text;
    if (code === undefined || map === undefined) throw new Error(`esbuild produced no ${BUNDLE_FILE}`);
    return { code: Buffer.from(inlineSourceMap(code, map, outfile, appDir)), metafile: result.metafile };
  } catch (err) {
    const errors =
      (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const first = errors[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : "";
    const reason = first ? `${first.text}${where}` : err instanceof Error ? err.message : String(err);
    throw new PalisadeError(SUPPLY_BUILD_FAILED, `Cannot bundle function "${name}": ${reason}`, {
      cause: err,
    });
  }
}

/**
 * Where the sandbox's Node resolves the map's sources (runtime/failure-stack.ts APP_SOURCE_ROOT): a
 * stack frame then names `palisade:///functions/charge.ts:12:9`, whatever directory the bundle is
 * staged in, and the host shows it as `functions/charge.ts:12:9`.
 */
const APP_SOURCE_ROOT = "palisade:///";

/**
 * `code` with its source map appended inline, so the map is part of the signed bytes (the sandbox may
 * read it, never write it). Its sources are made relative to the app (esbuild writes them relative to
 * the output file); one outside the app keeps only its file name, one in a plugin's namespace stays
 * as it is. The map holds no source text, only positions and names.
 */
function inlineSourceMap(code: string, mapText: string, outfile: string, appDir: string): string {
  const map = JSON.parse(mapText) as { sources?: string[]; sourceRoot?: string };
  map.sources = (map.sources ?? []).map((source) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(source)) return source;
    const path = relative(appDir, resolve(dirname(outfile), source))
      .split(sep)
      .join("/");
    return path.startsWith("../") || isAbsolute(path) ? basename(path) : path;
  });
  map.sourceRoot = APP_SOURCE_ROOT;
  const data = Buffer.from(JSON.stringify(map)).toString("base64");
  return `${code}//# sourceMappingURL=data:application/json;base64,${data}\n`;
}
