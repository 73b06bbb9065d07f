import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { SECURITY_KEYRING } from "./errors.ts";

/** How long a process waits for another's lock before giving up. @default 5 s */
const LOCK_WAIT_MS = 5000;
/** A lock file still without a pid this long after it was created was left by a crash. */
const EMPTY_LOCK_STALE_MS = 10_000;

/**
 * Runs `fn` holding an exclusive lock: the file `lock`, created with O_EXCL and holding this pid,
 * removed afterwards. Synchronous (it is taken while sealing): waits in short sleeps, at most
 * LOCK_WAIT_MS; a lock whose pid is no longer running is taken over. Protects read-modify-write of a
 * file shared by processes (the key ring: a platform's automatic rotation and `palisade keys`).
 */
export function withFileLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!tryLock(lock)) {
    const holder = lockHolder(lock);
    if (holder === "stale") rmSync(lock, { force: true });
    else if (Date.now() > deadline)
      throw new PalisadeError(
        SECURITY_KEYRING,
        `Cannot change the key ring: "${lock}" is held by pid ${holder} for more than ${LOCK_WAIT_MS} ms; if no palisade process runs with that pid, delete the file`,
        { retryable: true },
      );
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // a synchronous 5 ms sleep
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function tryLock(lock: string): boolean {
  let fd: number;
  try {
    fd = openSync(lock, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    writeSync(fd, String(process.pid));
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The pid holding `lock` ("?" while it is being written), or "stale" if that process is gone. */
function lockHolder(lock: string): number | "?" | "stale" {
  let text: string;
  let age: number;
  try {
    text = readFileSync(lock, "utf8");
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return "?"; // released meanwhile: the next try takes it
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return age > EMPTY_LOCK_STALE_MS ? "stale" : "?";
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? pid : "stale";
  }
}
