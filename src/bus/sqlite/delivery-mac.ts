import { timingSafeEqual } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";

/**
 * Authenticates what decides who runs what. Each delivery row carries a code (the key ring's HMAC,
 * keyed by a key only the platform holds) over its event's position, source, id and type and its
 * target, written when the row is routed or replayed. A row planted or re-pointed by someone who can
 * write the file but has no keys does not verify, and is refused rather than run. The code does not
 * cover a row's state: setting a finished row back to pending runs it again (at-least-once).
 */
export interface DeliveryMac {
  /** Code for the delivery of event `seq` to `target` (read from the stored event); null without a key. */
  sign(seq: number, target: string): string | null;
  /** Code for the delivery of `event` (as stored) to `target`; null without a key. */
  signFor(event: EventIdentity, target: string): string | null;
  /** Whether `mac` is the code of this delivery; always true without a key. */
  verify(mac: unknown, event: EventIdentity, target: string): boolean;
  /** Codes for every row without one, when the column is added to an existing log; returns how many. */
  backfill(): number;
}

/** What a delivery's code binds: the event as the log holds it. */
export interface EventIdentity {
  readonly seq: number;
  readonly source: string;
  readonly id: string;
  readonly type: string;
}

export function createDeliveryMac(
  db: DatabaseSync,
  mac: ((text: string) => string) | undefined,
): DeliveryMac {
  const identity = db.prepare("SELECT seq, source, id, type FROM events WHERE seq = ?");
  const unsigned = db.prepare("SELECT seq, target FROM deliveries WHERE mac IS NULL");
  const setMac = db.prepare("UPDATE deliveries SET mac = ? WHERE seq = ? AND target = ?");
  const code = (e: EventIdentity, target: string): string | null =>
    mac === undefined
      ? null
      : mac(["palisade.delivery.v1", e.seq, e.source, e.id, e.type, target].join("\0"));
  const sign = (seq: number, target: string): string | null => {
    const row = identity.get(seq);
    if (row === undefined || mac === undefined) return null;
    return code({ seq, source: String(row.source), id: String(row.id), type: String(row.type) }, target);
  };
  return {
    sign,
    signFor: code,
    verify(given, event, target) {
      const expected = code(event, target);
      if (expected === null) return true;
      if (typeof given !== "string" || given.length !== expected.length) return false;
      return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    },
    backfill() {
      if (mac === undefined) return 0;
      const rows = unsigned.all();
      for (const r of rows)
        setMac.run(sign(Number(r.seq), String(r.target)), Number(r.seq), String(r.target));
      return rows.length;
    },
  };
}
