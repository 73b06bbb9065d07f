import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { DIST_DIR } from "../../app-files.ts";
import { checkGate, runChecks } from "../../guard/index.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import { ATTESTATION_FILE, type BuiltFunction, type DsseEnvelope } from "../../supply/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import type { PlatformOps } from "../platform-ops.ts";
import { createProgress } from "../progress.ts";

/** One function `palisade build --json` reports; paths are relative to the app directory. */
export interface BuildReportEntry {
  name: string;
  dir: string;
  bundle: string;
  sha256: string;
  sbom: string;
  attestation: string;
  /** The id of the Ed25519 key that signed the attestation. */
  keyId: string;
  packages: BuiltFunction["packages"];
}

/**
 * `palisade build [dir] [--json]`: bundles each function with esbuild into
 * `dist/<function>/index.mjs`, writes its CycloneDX SBOM (`sbom.cdx.json`) and signs both digests
 * with the app's Ed25519 key (`attestation.dsse.json`). `palisade start` runs only bundles that
 * verify. On a terminal, a progress line names the function being bundled.
 */
export async function runBuild(
  dir: string,
  ops: PlatformOps,
  opts: { json?: boolean } = {},
): Promise<number> {
  const app = loadApp(resolve(dir));
  const refusal = checkGate(await runChecks(app), "build");
  if (refusal !== undefined) throw refusal;
  const out = join(app.dir, DIST_DIR);
  const progress = createProgress("bundling");
  const built: BuiltFunction[] = [];
  const total = app.functions.size;
  try {
    // One function at a time, so the progress line can name each: the platform's buildSigned has no
    // progress callback, and a view of the app with one function builds exactly that function.
    for (const [name, fn] of app.functions) {
      progress.update(built.length, total, name);
      const only: AppModel = { ...app, functions: new Map([[name, fn]]) };
      built.push(...(await ops.buildSigned(only, out)));
    }
  } finally {
    progress.done();
  }
  printBuild(
    built.map((b) => reportEntry(app.dir, b)),
    opts.json === true,
  );
  return EXIT_OK;
}

/** Prints what was built: one line per function, or `{ functions: [...] }` as JSON. */
export function printBuild(functions: readonly BuildReportEntry[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ functions })}\n`);
    return;
  }
  for (const f of functions)
    process.stdout.write(
      `${f.name}: ${f.bundle} sha256:${f.sha256.slice(0, 16)}… ` +
        `${f.packages.length} package(s) in sbom.cdx.json, signed (attestation.dsse.json)\n`,
    );
}

function reportEntry(appDir: string, b: BuiltFunction): BuildReportEntry {
  const attestation = join(b.dir, ATTESTATION_FILE);
  const envelope = JSON.parse(readFileSync(attestation, "utf8")) as DsseEnvelope;
  return {
    name: b.name,
    dir: relative(appDir, b.dir),
    bundle: relative(appDir, b.bundlePath),
    sha256: b.sha256,
    sbom: relative(appDir, b.sbomPath),
    attestation: relative(appDir, attestation),
    keyId: envelope.signatures[0]?.keyid ?? "",
    packages: b.packages,
  };
}
