import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { SECURITY_KEYRING } from "./errors.ts";

/** How many records each data key version has sealed, kept across restarts. */
export interface SealCounter {
  /** Counts one seal with `version`. */
  add(version: number): void;
  /** Seals with `version` so far: stored plus not yet stored. */
  total(version: number): number;
  /** Adds the seals counted here to the file (also done by `add` every `flushEveryMs`). */
  flush(): void;
}

/**
 * Counts seals per data key version in `file` (JSON `{ "counts": { "<version>": n } }`). Counts are
 * kept in memory and added to the file at most every `flushEveryMs` and on flush(): a process killed
 * in between loses its last few seconds of counts, and two processes flushing at the same instant can
 * lose one's increment. Both only undercount by a little, which the limit's margin below 2^32 absorbs.
 */
export function openSealCounter(file: string, flushEveryMs = 10_000): SealCounter {
  let stored = readCounts(file);
  const pending = new Map<number, number>();
  let flushedAt = Date.now();

  function flush(): void {
    flushedAt = Date.now();
    if (pending.size === 0) return;
    // Re-read: other processes (a CLI re-encrypting, another platform) add their seals too.
    const merged = readCounts(file);
    for (const [v, n] of pending) merged.set(v, (merged.get(v) ?? 0) + n);
    writeCounts(file, merged);
    stored = merged;
    pending.clear();
  }

  return {
    add(version) {
      pending.set(version, (pending.get(version) ?? 0) + 1);
      if (Date.now() - flushedAt >= flushEveryMs) flush();
    },
    total: (version) => (stored.get(version) ?? 0) + (pending.get(version) ?? 0),
    flush,
  };
}

function readCounts(file: string): Map<number, number> {
  if (!existsSync(file)) return new Map();
  try {
    const json = JSON.parse(readFileSync(file, "utf8")) as { counts?: unknown };
    const counts = json.counts;
    if (typeof counts !== "object" || counts === null || Array.isArray(counts))
      throw new Error('"counts" is not an object');
    const out = new Map<number, number>();
    for (const [v, n] of Object.entries(counts)) {
      if (!Number.isInteger(Number(v)) || !Number.isSafeInteger(n) || (n as number) < 0)
        throw new Error(`the count of version "${v}" is not a whole number`);
      out.set(Number(v), n as number);
    }
    return out;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PalisadeError(
      SECURITY_KEYRING,
      `Cannot read the seal counts in "${file}" (${reason}); restore it from a backup, or run palisade keys rotate and then delete it (the new key's count starts at 0)`,
      { cause: err },
    );
  }
}

function writeCounts(file: string, counts: Map<number, number>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ counts: Object.fromEntries(counts) })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
