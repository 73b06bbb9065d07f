import type { DatabaseSync } from "node:sqlite";
import type { GroupCommit } from "../../group-commit.ts";
import type { SharedState } from "../store.ts";

/**
 * Shared state in the log file: named values and counters in `cursors`, leases in `leases`. Every
 * change is one write (BEGIN IMMEDIATE, so every connection to the file takes its turn): increments
 * and leases are atomic across processes sharing the file.
 */
export function createSqliteState(db: DatabaseSync, writer: GroupCommit, check: () => void): SharedState {
  const get = db.prepare("SELECT seq FROM cursors WHERE name = ?");
  const set = db.prepare(
    "INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
  );
  // A prefix is a range of names: [prefix, prefix + the highest code point).
  const listed = db.prepare(
    "SELECT name, seq FROM cursors WHERE name >= ? AND name < ? AND seq != 0 ORDER BY name",
  );
  const getLease = db.prepare("SELECT holder, until FROM leases WHERE name = ?");
  const setLease = db.prepare(
    "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until",
  );
  return {
    async cursor(name) {
      check();
      return Number(get.get(name)?.seq ?? 0);
    },
    setCursor(name, value) {
      check();
      return writer.run(() => {
        set.run(name, value);
      });
    },
    async list(prefix) {
      check();
      return listed
        .all(prefix, `${prefix}\u{10ffff}`)
        .map((row) => ({ name: String(row.name), value: Number(row.seq) }));
    },
    increment(name, by, max) {
      check();
      return writer.run(() => {
        const next = Number(get.get(name)?.seq ?? 0) + by;
        if (next > max) return undefined;
        set.run(name, next);
        return next;
      });
    },
    lease(name, holder, ttlMs) {
      check();
      return writer.run(() => {
        const now = Date.now();
        const row = getLease.get(name);
        if (row !== undefined && String(row.holder) !== holder && Number(row.until) > now) return false;
        setLease.run(name, holder, now + ttlMs);
        return true;
      });
    },
  };
}
