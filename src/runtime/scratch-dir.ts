/**
 * Private scratch directories (`tmp: true`). Under bubblewrap a scratch directory is a tmpfs of its
 * own, size-limited by the kernel (os-layer.ts): nothing is made on the host. Without the OS layer it
 * is a host directory under a per-user root (0700), named after the host's pid; its size is checked by
 * the host (after each invocation and every second), not enforced by the kernel, so a burst of writes
 * between two checks can pass the limit until the check stops the process. Directories a killed host
 * left behind are removed at start (`removeStaleScratch`).
 */
import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { RUNTIME_SCRATCH_UNSAFE } from "./errors.ts";

/** Most files and directories the host walks when it measures a scratch directory; more is over. */
export const MAX_SCRATCH_ENTRIES = 10_000;

/** The per-user directory that holds host scratch directories; created 0700 and checked to be ours. */
export function scratchRoot(base: string = tmpdir()): string {
  const uid = process.getuid?.() ?? 0;
  const root = join(base, `palisade-scratch-${uid}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = lstatSync(root);
  // Another local user could have made it first (a shared /tmp): refuse rather than write there.
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0)
    throw new PalisadeError(
      RUNTIME_SCRATCH_UNSAFE,
      `Cannot use "${root}" for scratch directories: it must be a directory owned by uid ${uid} with mode 0700; remove it or set TMPDIR elsewhere`,
    );
  return root;
}

/** A new scratch directory for a process of `fn`: a path only (under the OS layer) or a host directory. */
export function createScratch(fn: string, osLayer: boolean): string {
  if (osLayer) return join(tmpdir(), `palisade-${fn}-${randomBytes(6).toString("hex")}`);
  return mkdtempSync(join(scratchRoot(), `${process.pid}-${fn}-`));
}

/** Removes host scratch directories whose host process is gone; returns how many. */
export function removeStaleScratch(root: string = scratchRoot()): number {
  let removed = 0;
  for (const name of readdirSync(root)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === "EPERM";
  }
}

/**
 * Bytes `dir` takes on disk (allocated blocks, so a sparse file counts what it uses), counted until
 * they pass `limit`; Infinity if it holds more than MAX_SCRATCH_ENTRIES entries. Links are not followed.
 */
export function scratchBytes(dir: string, limit: number): number {
  let total = 0;
  let entries = 0;
  const stack = [dir];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    let names: string[];
    try {
      names = readdirSync(next);
    } catch {
      continue; // removed meanwhile
    }
    for (const name of names) {
      if (++entries > MAX_SCRATCH_ENTRIES) return Number.POSITIVE_INFINITY;
      const path = join(next, name);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st === undefined) continue;
      total += st.blocks * 512;
      if (total > limit) return total;
      if (st.isDirectory()) stack.push(path);
    }
  }
  return total;
}

/** Measures `dir` every `everyMs` and on `check()`; calls `onOver` once when it passes `limit`. */
export function watchScratch(
  dir: string,
  limit: number,
  everyMs: number,
  onOver: (bytes: number) => void,
): { check(): boolean; stop(): void } {
  let over = false;
  const check = (): boolean => {
    if (over) return true;
    const bytes = scratchBytes(dir, limit);
    if (bytes <= limit) return false;
    over = true;
    onOver(bytes);
    return true;
  };
  const timer = setInterval(check, everyMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
