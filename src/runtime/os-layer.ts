/**
 * The OS layer of the sandbox: bubblewrap (`bwrap`) puts each function process in new user,
 * network, PID, IPC, UTS and mount namespaces, with no capabilities, an unprivileged uid, and a root
 * that holds only read-only binds of the Node binary (and the shared libraries it links), the runner
 * and the function's bundle, plus, when granted, its private scratch directory: a tmpfs of its own
 * with a size limit (`limits.tmpMb`), which nothing on the host shares. Its network namespace
 * has only its own loopback. Used when bwrap is installed and user namespaces work; switched off with
 * PALISADE_SANDBOX_OS=off. Without it the permission model is still enforced, and the platform says so.
 */
import { spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";

export interface OsLayer {
  readonly active: boolean;
  /** What is active, or why not: shown by `palisade dev` per function. */
  readonly description: string;
}

const UID = 65534; // nobody

let detected: OsLayer | undefined;

/** Whether the OS layer can be used on this machine (checked once per process by running it). */
export function detectOsLayer(): OsLayer {
  detected ??= probe();
  return detected;
}

function probe(): OsLayer {
  if (process.env.PALISADE_SANDBOX_OS === "off")
    return { active: false, description: "OS layer switched off (PALISADE_SANDBOX_OS=off)" };
  const which = spawnSync("bwrap", ["--version"], { encoding: "utf8" });
  if (which.error !== undefined || which.status !== 0)
    return { active: false, description: "OS layer unavailable: bubblewrap (bwrap) is not installed" };
  const run = spawnSync("bwrap", [...bwrapArgs([]), process.execPath, "-e", "0"], { encoding: "utf8" });
  if (run.status !== 0) {
    const why = (run.stderr || run.error?.message || `exit ${run.status}`).trim().split("\n")[0];
    return {
      active: false,
      description: `OS layer unavailable: bwrap cannot create namespaces here (${why})`,
    };
  }
  return {
    active: true,
    description:
      "bubblewrap: new user, network, PID, IPC and mount namespaces, no capabilities, uid 65534, read-only root of code and Node only",
  };
}

/** Files the Node binary needs to start: itself and the shared libraries it links (from ldd). */
function nodeFiles(): string[] {
  const files = [process.execPath];
  const ldd = spawnSync("ldd", [process.execPath], { encoding: "utf8" });
  if (ldd.status === 0) {
    for (const match of ldd.stdout.matchAll(/(\/[^\s]+)/g)) if (match[1] !== undefined) files.push(match[1]);
  }
  return files;
}

let nodeBinds: string[] | undefined;

/** A private scratch directory: mounted at `path` as a tmpfs of at most `bytes`. */
export interface ScratchMount {
  path: string;
  bytes: number;
}

/** The bwrap arguments (before the command) for a process that may read `readable` and write `scratch`. */
export function bwrapArgs(readable: readonly string[], scratch?: ScratchMount): string[] {
  nodeBinds ??= nodeFiles().flatMap((f) => ["--ro-bind", realpathSync(f), f]);
  return [
    "--unshare-all",
    "--die-with-parent",
    // No --new-session: the host starts bwrap as a process-group leader in a session of its own
    // (no controlling terminal, so no TIOCSTI), and kills the whole group at once (sandbox-process.ts).
    "--cap-drop",
    "ALL",
    "--uid",
    String(UID),
    "--gid",
    String(UID),
    "--dev",
    "/dev",
    ...nodeBinds,
    ...readable.flatMap((f) => ["--ro-bind", f, f]),
    // A write past the size fails with ENOSPC inside the sandbox; the host's disk is not touched.
    ...(scratch === undefined
      ? []
      : ["--perms", "0700", "--size", String(scratch.bytes), "--tmpfs", scratch.path]),
    // The root (a tmpfs bwrap builds to hold the mount points) is read-only too.
    "--remount-ro",
    "/",
  ];
}
