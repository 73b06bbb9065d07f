import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, version as esbuildVersion, type Metafile } from "esbuild";
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
 * The same sources and layout give the same bytes.
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
  const inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
  const packages = describePackages(inputs, appDir, name);
  const sha256 = sha256Hex(code);
  const sbom = createSbom(name, sha256, packages, esbuildVersion);

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(join(dir, ATTESTATION_FILE), { force: true });
  writeFileAtomic(bundlePath, code);
  const sbomPath = join(dir, SBOM_FILE);
  writeFileAtomic(sbomPath, `${JSON.stringify(sbom, null, 2)}\n`);
  return { name, dir, bundlePath, sbomPath, sha256, packages };
}

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
      sourcemap: "inline",
      metafile: true,
      write: false,
      logLevel: "silent",
    });
    const code = result.outputFiles.find((f) => f.path === outfile)?.contents;
    if (code === undefined) throw new Error(`esbuild produced no ${BUNDLE_FILE}`);
    return { code, metafile: result.metafile };
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
