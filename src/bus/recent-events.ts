import { LRUCache } from "lru-cache";
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
  // Positions only grow, and reads peek (they do not refresh), so the oldest position leaves first.
  const recent = new LRUCache<number, { event: CloudEvent; bytes: number }>({
    max: limit,
    maxSize: RECENT_BYTES,
    sizeCalculation: (entry) => Math.max(1, entry.bytes),
  });
  return {
    remember(seq, event, bytes) {
      if (bytes > RECENT_EVENT_MAX_BYTES) return; // large events are read back from the backend
      recent.set(seq, { event, bytes });
    },
    get: (seq) => recent.peek(seq)?.event,
  };
}
