import { join, relative, resolve } from "node:path";
import { DIST_DIR } from "../../app-files.ts";
import { checkGate, runChecks } from "../../guard/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-code.ts";
import type { PlatformOps } from "../platform-ops.ts";

/**
 * `palisade build [dir]`: bundles each function with esbuild into `dist/<function>/index.mjs`,
 * writes its CycloneDX SBOM (`sbom.cdx.json`) and signs both digests with the app's Ed25519 key
 * (`attestation.dsse.json`). `palisade start` runs only bundles that verify.
 */
export async function runBuild(dir: string, ops: PlatformOps): Promise<number> {
  const app = loadApp(resolve(dir));
  const refusal = checkGate(await runChecks(app), "build");
  if (refusal !== undefined) throw refusal;
  const out = join(app.dir, DIST_DIR);
  for (const b of await ops.buildSigned(app, out)) {
    process.stdout.write(
      `${b.name}: ${relative(app.dir, b.bundlePath)} sha256:${b.sha256.slice(0, 16)}… ` +
        `${b.packages.length} package(s) in sbom.cdx.json, signed (attestation.dsse.json)\n`,
    );
  }
  return EXIT_OK;
}
