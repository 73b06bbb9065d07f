/**
 * The sandbox runner as plain JavaScript. Node runs a TypeScript entry by stripping its types
 * itself, but starting that stripper costs every sandbox process about 25 ms of its cold start
 * (measured on Node 26.10: 0.05 s to run a small .ts file, 0.03 s for the same as .mjs). So the host
 * strips `guest/runner.ts` once (esbuild, with an inline source map so stack traces still name the
 * .ts lines) and every sandbox starts from the result: a file only the host can write (a private
 * directory of the host's temp dir, mode 0700, the file 0400), removed when the host exits.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "esbuild";

const RUNNER_SOURCE = fileURLToPath(new URL("./guest/runner.ts", import.meta.url));
const RUNNER_DIR = "palisade-runner-";
const RUNNER_FILE = "runner.mjs";

let written: { dir: string; file: string } | undefined;

/** The runner's JavaScript file, written on first use (and again if it was removed). */
export function runnerFile(): string {
  if (written !== undefined && existsSync(written.file)) return written.file;
  const { code } = transformSync(readFileSync(RUNNER_SOURCE, "utf8"), {
    loader: "ts",
    format: "esm",
    sourcemap: "inline",
    sourcefile: RUNNER_SOURCE,
  });
  const dir = mkdtempSync(join(tmpdir(), RUNNER_DIR));
  chmodSync(dir, 0o700);
  const file = join(dir, RUNNER_FILE);
  writeFileSync(file, code, { mode: 0o400 });
  if (written === undefined) process.once("exit", () => removeRunner());
  else rmSync(written.dir, { recursive: true, force: true });
  written = { dir, file };
  return file;
}

/** True for the runner's own files (its source and any written copy): frames of the platform, not the function. */
export function isRunnerPath(path: string): boolean {
  return (
    path === RUNNER_SOURCE ||
    (basename(path) === RUNNER_FILE && basename(dirname(path)).startsWith(RUNNER_DIR))
  );
}

function removeRunner(): void {
  if (written !== undefined) rmSync(written.dir, { recursive: true, force: true });
}
