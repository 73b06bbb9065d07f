import type { CloudEvent } from "../events/index.ts";

/** How many recently appended events are kept in memory for the delivery queue. */
const RECENT_EVENTS = 65536;
/** …and at most this much of them (JSON characters), so large events cannot exhaust memory. */
const RECENT_BYTES = 32 * 1024 * 1024;
const RECENT_EVENT_MAX_BYTES = 16 * 1024;

/**
 * Events appended by this process, by position: the delivery queue reads them back moments later, and
 * this spares it decrypting and parsing what it just wrote. Bounded (tens of MB at most); a backlog
 * deeper than that is read back from the backend. Only committed events may be remembered: a rolled-back
 * insert frees its position for the next event.
 */
export interface RecentEvents {
  remember(seq: number, event: CloudEvent, bytes: number): void;
  get(seq: number): CloudEvent | undefined;
}

export function createRecentEvents(limit = RECENT_EVENTS): RecentEvents {
  const recent = new Map<number, { event: CloudEvent; bytes: number }>();
  // Insertion order in a ring, oldest at `head`: evicting never walks the map (a Map's first key sits
  // behind every entry deleted since its last rehash, so `keys().next()` grew with the churn).
  const order = new Float64Array(limit);
  let head = 0;
  let recentBytes = 0;
  const evictOldest = () => {
    const oldest = order[head] ?? 0;
    head = (head + 1) % limit;
    recentBytes -= recent.get(oldest)?.bytes ?? 0;
    recent.delete(oldest);
  };
  return {
    remember(seq, event, bytes) {
      if (bytes > RECENT_EVENT_MAX_BYTES) return; // large events are read back from the backend
      const previous = recent.get(seq);
      if (previous !== undefined) {
        // The same position again (a rolled-back insert's seq reused): replace it in place.
        recentBytes += bytes - previous.bytes;
        recent.set(seq, { event, bytes });
        return;
      }
      if (recent.size === limit) evictOldest();
      order[(head + recent.size) % limit] = seq;
      recent.set(seq, { event, bytes });
      recentBytes += bytes;
      while (recentBytes > RECENT_BYTES && recent.size > 0) evictOldest();
    },
    get: (seq) => recent.get(seq)?.event,
  };
}
