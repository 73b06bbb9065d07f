import { LRUCache } from "lru-cache";

/** Blocks held at once; past it the oldest is forgotten (memory bound against address floods). */
const MAX_BLOCKS = 100_000;

/**
 * Client addresses a detector blocked, until when. Kept by the gateway process that saw the
 * traffic (each gateway of a deployment blocks what reaches it); a block ends by itself.
 */
export interface ClientBlocks {
  /** Seconds `ip` stays blocked from `now`, if it is blocked. */
  blocked(ip: string, now?: number): number | undefined;
  block(ip: string, until: number): void;
}

export function createClientBlocks(): ClientBlocks {
  const until = new LRUCache<string, number>({ max: MAX_BLOCKS });
  return {
    blocked(ip, now = Date.now()) {
      const end = until.get(ip);
      if (end === undefined) return undefined;
      if (end <= now) {
        until.delete(ip);
        return undefined;
      }
      return Math.max(1, Math.ceil((end - now) / 1000));
    },
    block(ip, end) {
      until.set(ip, Math.max(end, until.get(ip) ?? 0));
    },
  };
}
