import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SUPPLY_DIGEST_MISMATCH, SUPPLY_NOT_BUILT } from "./errors.ts";
import { BUNDLE_FILE, readRegularFile, sha256Hex } from "./function-files.ts";
import type { VerifiedBundle } from "./verify-function.ts";

/**
 * Writes the bytes verifyFunction checked to `<runDir>/<name>/index.mjs` and returns that path: the
 * file a sandbox loads. `runDir` must be a directory only the platform writes (the app's `.palisade/`),
 * so a bundle swapped in the build output after verification is never what runs. The file is
 * replaced by rename, never written through, and left read-only.
 */
export function stageBundle(verified: VerifiedBundle, name: string, runDir: string): string {
  const dir = join(runDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, BUNDLE_FILE);
  const tmp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, verified.bundle, { flag: "wx", mode: 0o400 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return path;
}

/**
 * Throws PAL_SUPPLY_DIGEST_MISMATCH unless the staged bundle at `path` still has the digest that was
 * verified: checked before every sandbox process starts.
 */
export function checkStagedBundle(path: string, sha256: string, name: string): void {
  const bytes = readRegularFile(path, name);
  if (bytes === undefined)
    throw new PalisadeError(
      SUPPLY_NOT_BUILT,
      `Function "${name}" has lost its verified bundle ("${path}" was removed); restart the platform`,
    );
  const actual = sha256Hex(bytes);
  if (actual === sha256) return;
  throw new PalisadeError(
    SUPPLY_DIGEST_MISMATCH,
    `Verified bundle of function "${name}" was modified after verification (${path}: sha256 ${actual.slice(0, 12)}… ≠ verified ${sha256.slice(0, 12)}…); something else writes the app's .palisade/ directory`,
    { details: { file: path, sha256: actual, signed: sha256 } },
  );
}
