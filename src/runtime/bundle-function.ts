import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { PalisadeError } from "../errors.ts";
import { RUNTIME_BUNDLE_FAILED } from "./errors.ts";

/**
 * Bundles a function's handler and everything it imports into one ES module file, the only file its
 * sandbox may read. Node built-ins stay imports (the permission model governs them at run time).
 */
export async function bundleFunction(name: string, handlerPath: string, outDir: string): Promise<string> {
  const dir = join(outDir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const outfile = join(dir, `${name}.mjs`);
  try {
    await build({
      entryPoints: [handlerPath],
      outfile,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node26",
      sourcemap: "inline",
      logLevel: "silent",
    });
  } catch (err) {
    const errors =
      (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const first = errors[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : "";
    const reason = first ? `${first.text}${where}` : err instanceof Error ? err.message : String(err);
    throw new PalisadeError(RUNTIME_BUNDLE_FAILED, `Cannot bundle function "${name}": ${reason}`, {
      cause: err,
    });
  }
  return outfile;
}
