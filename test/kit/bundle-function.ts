import { dirname } from "node:path";
import { buildFunction } from "../../src/supply/index.ts";

/**
 * Bundles a handler with the platform's one bundler (supply's buildFunction, the one `palisade build`
 * uses) into `<outDir>/<name>/index.mjs` and returns that path. Unsigned: for tests that start
 * sandbox pools directly, below the signature check. The handler's directory is the app directory.
 */
export async function bundleFunction(name: string, handlerPath: string, outDir: string): Promise<string> {
  const built = await buildFunction({ name, handlerPath, appDir: dirname(handlerPath), outDir });
  return built.bundlePath;
}
