import type { DatabaseSync } from "node:sqlite";
import type { RecordSealer } from "../event-log.ts";

/** Re-sealing of the log's sealed columns under the active data key, and counts per key version. */
export interface Resealer {
  /** Re-seals up to `limit` records not on the active version; run inside a write. Returns how many. */
  reencrypt(limit: number): number;
  /** How many records each data key version seals (0: plaintext). */
  versions(): Map<number, number>;
}

/** What a sealed event body is bound to (the associated data of its ciphertext). */
export function eventRecord(source: unknown, id: unknown): string {
  return `event:${String(source)}\0${String(id)}`;
}

/** What a sealed delivery error is bound to. */
export function errorRecord(seq: unknown, target: unknown): string {
  return `delivery-error:${String(seq)}\0${String(target)}`;
}

export function createResealer(db: DatabaseSync, sealer: RecordSealer): Resealer {
  // Data key version of a sealed column ("pal1.<version>.…"), 0 for plaintext.
  const version = (col: string) =>
    `CASE WHEN ${col} LIKE 'pal1.%' THEN CAST(substr(${col}, 6, instr(substr(${col}, 6), '.') - 1) AS INTEGER) ELSE 0 END`;
  const staleEvents = db.prepare(
    `SELECT seq, source, id, body FROM events WHERE ${version("body")} != ? LIMIT ?`,
  );
  const resealEvent = db.prepare("UPDATE events SET body = ? WHERE seq = ?");
  const staleErrors = db.prepare(
    `SELECT seq, target, last_error FROM deliveries WHERE last_error IS NOT NULL AND ${version("last_error")} != ? LIMIT ?`,
  );
  const resealError = db.prepare("UPDATE deliveries SET last_error = ? WHERE seq = ? AND target = ?");
  const staleHistory = db.prepare(
    `SELECT rowid, seq, target, last_error FROM delivery_history WHERE last_error IS NOT NULL AND ${version("last_error")} != ? LIMIT ?`,
  );
  const resealHistory = db.prepare("UPDATE delivery_history SET last_error = ? WHERE rowid = ?");
  const versionCounts = [
    ["events", "body"],
    ["deliveries", "last_error"],
    ["delivery_history", "last_error"],
  ].map(([table, col]) =>
    db.prepare(
      `SELECT ${version(String(col))} AS v, count(*) AS n FROM ${table} WHERE ${col} IS NOT NULL GROUP BY v`,
    ),
  );
  const reseal = (text: unknown, record: string) => sealer.seal(sealer.open(String(text), record), record);

  return {
    reencrypt(limit) {
      const active = sealer.activeVersion();
      let n = 0;
      for (const r of staleEvents.all(active, limit)) {
        resealEvent.run(reseal(r.body, eventRecord(r.source, r.id)), Number(r.seq));
        n += 1;
      }
      for (const r of staleErrors.all(active, limit - n)) {
        resealError.run(reseal(r.last_error, errorRecord(r.seq, r.target)), Number(r.seq), String(r.target));
        n += 1;
      }
      for (const r of staleHistory.all(active, limit - n)) {
        resealHistory.run(reseal(r.last_error, errorRecord(r.seq, r.target)), Number(r.rowid));
        n += 1;
      }
      return n;
    },
    versions() {
      const counts = new Map<number, number>();
      for (const stmt of versionCounts)
        for (const r of stmt.all()) counts.set(Number(r.v), (counts.get(Number(r.v)) ?? 0) + Number(r.n));
      return counts;
    },
  };
}
