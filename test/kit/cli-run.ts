import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { BIN } from "./cli-process.ts";

/**
 * Runs the CLI in a child process without blocking this one: a platform under test in this
 * process keeps serving (and committing) while the command works on the same files.
 */
export function palisade(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { encoding: "utf8", env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({ status: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr }),
    );
  });
}

/** Runs the CLI with `--json`, asserts it succeeded, and parses what it printed. */
export async function palisadeJson(args: string[], env: Record<string, string> = {}): Promise<unknown> {
  const run = await palisade([...args, "--json"], env);
  assert.equal(run.status, 0, `palisade ${args.join(" ")}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 50 ms until it holds; throws naming `what` after `ms`. */
export async function waitUntil(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
