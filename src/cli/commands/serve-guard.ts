/**
 * What `dev` and `start` make sure of before any work: that the port is free (a taken port is named
 * with its fix at once, not after bundling and starting sandboxes) and that no other `dev` or `start`
 * runs the same app on the embedded store (two processes on one SQLite log and one secret store
 * would race each other's state).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { PalisadeError } from "../../errors.ts";

/** The port `dev`/`start` was asked for is taken, or not ours to bind. Exit 1. */
export const CLI_PORT_UNAVAILABLE = "PAL_CLI_PORT_UNAVAILABLE";
/** Another `dev`/`start` runs this app. Exit 1. */
export const CLI_APP_RUNNING = "PAL_CLI_APP_RUNNING";

/** The lock file in the app's data dir: the pid and command of the process running the app. */
export const RUN_LOCK_FILE = "run.lock";

/** What a serving command guards before it starts. */
export interface ServeGuard {
  /** `dev` or `start`: named in the lock and in a refusal. */
  command: string;
  /** The app's data dir to lock, or undefined when no lock is taken (NATS: nodes share an app). */
  lockDir: string | undefined;
  host: string;
  /** The port to check first, or undefined when this process does not listen on one of its own. */
  port: number | undefined;
}

/**
 * Runs `serve` under the guard: the app's lock held for its whole run, the port checked first, and
 * a listen that loses the race for the port after the check reported as the same clear error.
 */
export async function guardServe(guard: ServeGuard, serve: () => Promise<number>): Promise<number> {
  const release = guard.lockDir === undefined ? undefined : lockApp(guard.lockDir, guard.command);
  try {
    if (guard.port !== undefined) await assertPortFree(guard.host, guard.port);
    return await serve();
  } catch (err) {
    throw guard.port === undefined ? err : listenFailure(err, guard.host, guard.port);
  } finally {
    release?.();
  }
}

/** Refuses at once when `host:port` cannot be bound (port 0 asks for any free port: nothing to check). */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const error = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => done(err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(undefined)));
  });
  if (error !== undefined) throw portError(host, port, error);
}

/** The clear error for a listen that failed on `host:port` (also when another process won the race). */
export function portError(host: string, port: number, cause: NodeJS.ErrnoException): PalisadeError {
  const why =
    cause.code === "EADDRINUSE"
      ? "is already in use (another palisade dev, or another server)"
      : cause.code === "EACCES"
        ? "needs privileges this user lacks (ports below 1024)"
        : `cannot be bound (${cause.code ?? cause.message})`;
  return new PalisadeError(
    CLI_PORT_UNAVAILABLE,
    `Cannot listen on ${host}:${port}: the port ${why}; choose another with --port <n> or PALISADE_PORT (0 picks a free one)`,
    { cause },
  );
}

/** A listen that lost the race for the port after the check becomes the same clear error. */
export function listenFailure(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "EADDRINUSE" || code === "EACCES"
    ? portError(host, port, err as NodeJS.ErrnoException)
    : err;
}

/**
 * Takes the app's run lock for this process, or refuses naming the process that holds it. A lock
 * left by a process that is gone (killed, crashed) is taken over. Returns the release, which removes
 * the file only while it is still this process's.
 */
export function lockApp(dataDir: string, command: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, RUN_LOCK_FILE);
  const mine = `${JSON.stringify({ pid: process.pid, command })}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, mine);
      closeSync(fd);
      return () => {
        if (readOrEmpty(file) === mine) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = lockHolder(readOrEmpty(file));
      if (holder !== undefined && isAlive(holder.pid))
        throw new PalisadeError(
          CLI_APP_RUNNING,
          `Cannot run "palisade ${command}": "palisade ${holder.command}" (pid ${holder.pid}) already runs this app; stop it first, or run this one in another app directory`,
        );
      rmSync(file, { force: true }); // its process is gone: the lock is stale
    }
  }
  throw new PalisadeError(
    CLI_APP_RUNNING,
    `Cannot run "palisade ${command}": another process keeps taking ${file}`,
  );
}

function lockHolder(text: string): { pid: number; command: string } | undefined {
  try {
    const parsed = JSON.parse(text) as { pid?: unknown; command?: unknown };
    if (typeof parsed.pid === "number" && Number.isInteger(parsed.pid) && parsed.pid > 0)
      return { pid: parsed.pid, command: typeof parsed.command === "string" ? parsed.command : "dev" };
  } catch {
    // unreadable: treated as stale, like a lock whose process is gone
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
