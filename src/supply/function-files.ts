import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join, resolve } from "node:path";
import { INTERNAL, PalisadeError } from "../errors.ts";
import { SUPPLY_MALFORMED, SUPPLY_NOT_BUILT, SUPPLY_SYMLINK } from "./errors.ts";

/** The bundle, the only file a function's sandbox may read. */
export const BUNDLE_FILE = "index.mjs";
/** The CycloneDX 1.5 JSON SBOM of the bundle. */
export const SBOM_FILE = "sbom.cdx.json";
/** The DSSE envelope signing the digests of the bundle and the SBOM. */
export const ATTESTATION_FILE = "attestation.dsse.json";

/** Whether `name` can name a function directory: one path segment, nothing that climbs or hides. */
export function isSafeFunctionName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && !name.includes("..");
}

/** The function a built directory belongs to: the directory's own name (`<outDir>/<name>/`). */
export function functionNameOf(dir: string): string {
  return basename(resolve(dir));
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// O_NOFOLLOW makes open fail (ELOOP) if the last path component is a symlink, closing the race
// between lstat and open; O_NONBLOCK keeps a FIFO planted in the directory from blocking open.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Reads a regular file without ever following a symbolic link at `path`. Returns undefined if it
 * does not exist; throws PAL_SUPPLY_SYMLINK for a link and PAL_SUPPLY_MALFORMED for anything else
 * that is not a regular file.
 */
export function readRegularFile(path: string, functionName: string): Buffer | undefined {
  let fd: number;
  try {
    if (lstatSync(path).isSymbolicLink()) throw symlinkError(path, functionName);
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw symlinkError(path, functionName);
    throw cannotRead(path, functionName, err);
  }
  try {
    if (!fstatSync(fd).isFile()) {
      throw new PalisadeError(
        SUPPLY_MALFORMED,
        `Refusing function "${functionName}": "${path}" is not a regular file; rebuild with palisade build`,
      );
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Throws PAL_SUPPLY_SYMLINK if `path` itself is a symbolic link; returns whether it exists. */
export function refuseSymlink(path: string, functionName: string): boolean {
  try {
    if (lstatSync(path).isSymbolicLink()) throw symlinkError(path, functionName);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw cannotRead(path, functionName, err);
  }
}

/**
 * Reads the bundle and SBOM of a built function directory, refusing symbolic links (the directory's
 * own included) and naming the missing file if it is not built.
 */
export function readBuiltFiles(dir: string, functionName: string): { bundle: Buffer; sbom: Buffer } {
  // resolve() drops a trailing slash, through which lstat would follow a symlinked directory.
  if (!refuseSymlink(resolve(dir), functionName)) throw notBuilt(dir, functionName);
  const bundlePath = join(dir, BUNDLE_FILE);
  const bundle = readRegularFile(bundlePath, functionName);
  if (bundle === undefined) throw notBuilt(bundlePath, functionName);
  const sbomPath = join(dir, SBOM_FILE);
  const sbom = readRegularFile(sbomPath, functionName);
  if (sbom === undefined) throw notBuilt(sbomPath, functionName);
  return { bundle, sbom };
}

/**
 * Replaces `path` with `data` atomically. The temporary file is created exclusively and then renamed
 * over `path`, so a symlink planted at either name is replaced, never written through.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, data, { flag: "wx" });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function notBuilt(path: string, functionName: string): PalisadeError {
  return new PalisadeError(
    SUPPLY_NOT_BUILT,
    `Function "${functionName}" is not built ("${path}" does not exist); build it with palisade build`,
  );
}

function symlinkError(path: string, functionName: string): PalisadeError {
  return new PalisadeError(
    SUPPLY_SYMLINK,
    `Refusing function "${functionName}": "${path}" is a symbolic link, and function bundles may not contain symbolic links; rebuild with palisade build`,
  );
}

function cannotRead(path: string, functionName: string, err: unknown): PalisadeError {
  if (err instanceof PalisadeError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new PalisadeError(INTERNAL, `Cannot read "${path}" of function "${functionName}": ${reason}`, {
    cause: err,
  });
}
