import type { DatabaseSync, StatementSync } from "node:sqlite";
import { errorRecordOf, eventRecordOf, type Reseal } from "../store.ts";

/** Re-sealing of the log's sealed columns (event bodies, delivery errors), and counts per key version. */
export interface Resealer {
  /** Re-seals up to `limit` texts `isStale` picks; run inside a write. 0 only after a full pass. */
  reseal(limit: number, isStale: (sealed: string, record: string) => boolean, reseal: Reseal): number;
  /** How many texts each `versionOf` value has. */
  versions(versionOf: (sealed: string) => number): Map<number, number>;
}

const CHUNK = 512;

/** One sealed column: how to read it in order from a position, its record, and how to write it back. */
interface Column {
  readonly read: StatementSync;
  readonly write: StatementSync;
  readonly all: StatementSync;
  record(row: Record<string, unknown>): string;
  /** Where reading starts. */
  readonly start: readonly (string | number)[];
  /** The row's position (what `read` continues after) and what `write` needs after the new text. */
  key(row: Record<string, unknown>): { at: (string | number)[]; args: (string | number)[] };
}

export function createResealer(db: DatabaseSync): Resealer {
  const columns: Column[] = [
    {
      read: db.prepare(
        "SELECT seq AS at, origin, source, id, type, body AS text FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
      ),
      write: db.prepare("UPDATE events SET body = ? WHERE seq = ?"),
      all: db.prepare("SELECT body AS text FROM events"),
      record: (r) =>
        eventRecordOf({
          principal: String(r.origin ?? ""),
          source: String(r.source),
          id: String(r.id),
          type: String(r.type),
        }),
      start: [0],
      key: (r) => ({ at: [Number(r.at)], args: [Number(r.at)] }),
    },
    {
      read: db.prepare(
        `SELECT seq, target, last_error AS text FROM deliveries
         WHERE (seq, target) > (?, ?) AND last_error IS NOT NULL ORDER BY seq, target LIMIT ?`,
      ),
      write: db.prepare("UPDATE deliveries SET last_error = ? WHERE seq = ? AND target = ?"),
      all: db.prepare("SELECT last_error AS text FROM deliveries WHERE last_error IS NOT NULL"),
      record: (r) => errorRecordOf(Number(r.seq), String(r.target)),
      start: [0, ""],
      key: (r) => ({ at: [Number(r.seq), String(r.target)], args: [Number(r.seq), String(r.target)] }),
    },
    {
      read: db.prepare(
        `SELECT rowid AS at, seq, target, last_error AS text FROM delivery_history
         WHERE rowid > ? AND last_error IS NOT NULL ORDER BY rowid LIMIT ?`,
      ),
      write: db.prepare("UPDATE delivery_history SET last_error = ? WHERE rowid = ?"),
      all: db.prepare("SELECT last_error AS text FROM delivery_history WHERE last_error IS NOT NULL"),
      record: (r) => errorRecordOf(Number(r.seq), String(r.target)),
      start: [0],
      key: (r) => ({ at: [Number(r.at)], args: [Number(r.at)] }),
    },
  ];
  // Where the last call stopped in each column, so a long re-encryption is one pass, not one per call.
  let from = columns.map((c) => [...c.start]);

  function pass(limit: number, isStale: (s: string, r: string) => boolean, reseal: Reseal): number {
    let n = 0;
    for (const [i, column] of columns.entries()) {
      for (;;) {
        const rows = column.read.all(...(from[i] ?? column.start), CHUNK);
        for (const row of rows) {
          const { at, args } = column.key(row);
          from[i] = at;
          const text = String(row.text);
          const record = column.record(row);
          if (!isStale(text, record)) continue;
          const again = reseal(text, record);
          if (again === undefined) continue;
          column.write.run(again, ...args);
          n += 1;
          if (n >= limit) return n;
        }
        if (rows.length < CHUNK) break;
      }
    }
    return n;
  }

  return {
    reseal(limit, isStale, reseal) {
      if (limit <= 0) return 0;
      const resumed = from.some((at, i) => at[0] !== columns[i]?.start[0]);
      const n = pass(limit, isStale, reseal);
      if (n > 0 || !resumed) return n;
      // Nothing after where the last call stopped: look once more from the start.
      from = columns.map((c) => [...c.start]);
      return pass(limit, isStale, reseal);
    },
    versions(versionOf) {
      const counts = new Map<number, number>();
      for (const column of columns)
        for (const row of column.all.iterate()) {
          const v = versionOf(String(row.text));
          counts.set(v, (counts.get(v) ?? 0) + 1);
        }
      return counts;
    },
  };
}
