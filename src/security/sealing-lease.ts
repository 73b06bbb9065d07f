import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A running platform's statement, renewed every second, of the data key versions it may still be
 * sealing with: `<dir>/<pid>-<id>.json` (one per key ring holding a lease, so several platforms in
 * one process keep theirs apart). `keys retire` refuses a version any live process names.
 */
export interface SealingLease {
  pid: number;
  versions: number[];
  renewedAt: string;
}

const LEASE_NAME = /^(\d+)-[0-9a-f]+\.json$/;

/** A name for a new lease of this process. */
export function newLeaseName(): string {
  return `${process.pid}-${randomBytes(4).toString("hex")}.json`;
}

/** Writes (replaces) the lease `name` in `dir`. */
export function writeLease(dir: string, name: string, versions: readonly number[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lease: SealingLease = {
    pid: process.pid,
    versions: [...versions],
    renewedAt: new Date().toISOString(),
  };
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(lease)}\n`, { mode: 0o600 });
  renameSync(tmp, join(dir, name));
}

/** Removes the lease `name` from `dir`. */
export function removeLease(dir: string, name: string): void {
  rmSync(join(dir, name), { force: true });
}

/**
 * Pids of the live processes whose lease in `dir` names `version`. Leases of processes that are gone
 * are removed; one that cannot be read counts as naming every version (it blocks, never lets through).
 */
export function leaseHolders(dir: string, version: number): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const match = LEASE_NAME.exec(name);
    if (match === null) return [];
    const pid = Number(match[1]);
    if (!isAlive(pid)) {
      rmSync(join(dir, name), { force: true });
      return [];
    }
    const versions = readVersions(join(dir, name));
    return versions === undefined || versions.includes(version) ? [pid] : [];
  });
}

function readVersions(path: string): number[] | undefined {
  try {
    const lease = JSON.parse(readFileSync(path, "utf8")) as Partial<SealingLease>;
    return Array.isArray(lease.versions) ? lease.versions : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1) return false; // kill(0) would signal our own group
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
