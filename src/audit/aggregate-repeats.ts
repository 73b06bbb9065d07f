import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { AUDIT_KIND } from "./audit-kinds.ts";
import { canonicalJson } from "./canonical-json.ts";
import type { AuditLog } from "./open-audit-log.ts";
import { positiveOption } from "./positive-option.ts";
import type { AuditEntry } from "./record-body.ts";

/**
 * The kinds whose repeats are merged by default, each with the members of `details` that may differ
 * between repeats (left out of the merged record): a rejection repeats when its reason, code, status,
 * address, route and principal are the same; a refused capability call when its function,
 * capability, target and reason are, whatever event the function was handling.
 */
export const REPEATABLE_KINDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  [AUDIT_KIND.ingressRejected]: [],
  [AUDIT_KIND.capabilityDenied]: ["eventId"],
});

export interface AggregateOptions {
  /** Kinds to merge, each with the `details` members that may differ. @default REPEATABLE_KINDS */
  kinds?: Readonly<Record<string, readonly string[]>>;
  /** How long repeats of a decision are counted before one record is written for them. @default 10000 */
  windowMs?: number;
  /** Most different decisions counted at once; past it the oldest window is written early. @default 10000 */
  maxOpen?: number;
}

interface Window {
  entry: AuditEntry;
  opened: number;
  repeats: number;
  first: number;
  last: number;
}

/**
 * Wraps an audit log so that a flood of one decision cannot flood it: the first occurrence of a
 * repeatable decision is recorded at once with `count: 1`; its repeats within `windowMs` become one
 * record, written when the window ends (or on close), with the exact `count` and the times of the
 * first and last repeat (`firstAt`, `lastAt`). The counts of a kind's records therefore sum to the
 * exact number of decisions. Other kinds pass straight through. A crash loses at most the counts of
 * the open windows (the first occurrence of each is already written).
 */
export function aggregateRepeats<L extends AuditLog>(log: L, options: AggregateOptions = {}): L {
  const kinds = options.kinds ?? REPEATABLE_KINDS;
  const windowMs = positiveOption(options.windowMs ?? 10_000, "windowMs");
  const maxOpen = positiveOption(options.maxOpen ?? 10_000, "maxOpen");
  function flush(w: Window): void {
    if (w.repeats === 0) return;
    const counted = { count: w.repeats, firstAt: iso(w.first), lastAt: iso(w.last) };
    log.record({ ...w.entry, details: { ...w.entry.details, ...counted } });
  }
  // Opening order (lookups peek, so a repeat does not move its window): the least recent is the
  // oldest, and past `maxOpen` it is written early. Eviction is O(1): a flood of distinct decisions
  // keeps this full, and a Map's first entry sits behind every entry deleted since its last rehash.
  // When it is full, the oldest is written here rather than by the cache's own eviction, so that it is
  // written before the decision that displaces it and only once that decision is recorded.
  const windows = new LRUCache<string, Window>({ max: maxOpen });
  let timer: NodeJS.Timeout | undefined;

  function write(key: string, w: Window): void {
    windows.delete(key);
    flush(w);
  }

  function sweep(): void {
    timer = undefined;
    const now = Date.now();
    const due: [string, Window][] = [];
    for (const key of windows.rkeys()) {
      const w = windows.peek(key);
      if (w === undefined || now - w.opened < windowMs) break;
      due.push([key, w]);
    }
    for (const [key, w] of due) write(key, w);
    arm();
  }

  function arm(): void {
    const oldest = windows.rvalues().next().value;
    if (timer !== undefined || oldest === undefined) return;
    // Unref'd: open windows do not keep the process alive; close() writes them.
    timer = setTimeout(sweep, Math.max(0, oldest.opened + windowMs - Date.now())).unref();
  }

  function record(entry: AuditEntry): void {
    const varying = kinds[entry.kind];
    if (varying === undefined) {
      log.record(entry);
      return;
    }
    const stable = withoutMembers(entry, varying);
    const key = createHash("sha256").update(canonicalJson(stable)).digest("hex");
    const now = Date.now();
    const open = windows.peek(key);
    if (open !== undefined && now - open.opened < windowMs) {
      if (open.repeats === 0) open.first = now;
      open.repeats += 1;
      open.last = now;
      return;
    }
    if (open !== undefined) write(key, open);
    const oldest = windows.size >= maxOpen ? windows.rkeys().next().value : undefined;
    if (oldest !== undefined) write(oldest, windows.peek(oldest) as Window);
    // Recorded before its window opens: an entry the log refuses (it throws) leaves no window
    // behind that a later sweep or close would fail on.
    log.record({ ...entry, details: { ...entry.details, count: 1 } });
    windows.set(key, { entry: stable, opened: now, repeats: 0, first: now, last: now });
    arm();
  }

  // The same kind of log as `log` (a SQLite one still closes synchronously).
  const wrapped: AuditLog = {
    // Spread first: whatever else the log offers passes through unchanged.
    ...log,
    record,
    close() {
      clearTimeout(timer);
      timer = undefined;
      for (const key of [...windows.rkeys()]) {
        const w = windows.peek(key);
        if (w !== undefined) write(key, w);
      }
      return log.close();
    },
  };
  return wrapped as L;
}

function withoutMembers(entry: AuditEntry, varying: readonly string[]): AuditEntry {
  if (entry.details === undefined || varying.length === 0) return entry;
  const details = { ...entry.details };
  for (const name of varying) delete details[name];
  return { ...entry, details };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
