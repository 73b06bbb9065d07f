/**
 * How the embedded log opens its file: WAL, and `synchronous=FULL` so every commit is fsync'd before
 * it is acknowledged (DESIGN §8).
 */
export const SQLITE_PRAGMAS =
  "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;";

/**
 * Logs created before duplicates had a window kept (source, id) UNIQUE forever; this rebuilds
 * such a table without the constraint (same rows, same positions).
 */
export const MIGRATE_UNIQUE_SQL = `
CREATE TABLE events_migrated (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
  body TEXT NOT NULL, accepted_at INTEGER NOT NULL
);
INSERT INTO events_migrated SELECT seq, source, id, type, body, accepted_at FROM events;
DROP TABLE events;
ALTER TABLE events_migrated RENAME TO events;
`;

/**
 * Tables of the embedded log. Events are append-only; deliveries hold one row per (event, target).
 * `origin` is the event's authenticated principal, set by the platform: dedupe is scoped to it.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  origin TEXT
);
-- One index serves both lookups by id (find, and dedupe on origin + source + id): ids are random, so
-- each index on them costs a random page per insert once the log outgrows the page cache.
DROP INDEX IF EXISTS events_by_id;
DROP INDEX IF EXISTS events_by_source_id;
DROP INDEX IF EXISTS events_by_origin_source_id;
CREATE INDEX IF NOT EXISTS events_by_id_origin_source ON events (id, origin, source, seq);
-- Retention finds what it may remove by age; without this it read every event at start and hourly.
CREATE INDEX IF NOT EXISTS events_by_accepted_at ON events (accepted_at);
CREATE TABLE IF NOT EXISTS cursors (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
) WITHOUT ROWID;
-- Leases (one holder at a time, until a time in ms): which node ticks a schedule.
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER NOT NULL REFERENCES events (seq),
  target TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  dead_reason TEXT,
  updated_at INTEGER NOT NULL,
  -- Authentication code binding the row to its event and target (delivery-mac.ts).
  mac TEXT,
  PRIMARY KEY (seq, target)
) WITHOUT ROWID;
-- Outcomes that a replay or DLQ replay started over, kept for the record.
CREATE TABLE IF NOT EXISTS delivery_history (
  seq INTEGER NOT NULL REFERENCES events (seq),
  target TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT,
  dead_reason TEXT,
  updated_at INTEGER NOT NULL,
  superseded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_history_by_seq ON delivery_history (seq);
-- Only pending rows are indexed by due time: a settled delivery leaves these indexes and stays out.
DROP INDEX IF EXISTS deliveries_due;
DROP INDEX IF EXISTS deliveries_next;
CREATE INDEX IF NOT EXISTS deliveries_pending_by_target ON deliveries (target, next_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (next_at) WHERE state = 'pending';
-- Dead letters alone, newest first: the DLQ gauge (every few seconds) and listing never read delivered rows.
CREATE INDEX IF NOT EXISTS deliveries_failed ON deliveries (updated_at) WHERE state = 'failed';
`;
