import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../errors.ts";
import { AUDIT_NOT_FOUND, AUDIT_UNREADABLE } from "./errors.ts";

/** Where an app keeps its audit log, relative to the app directory. */
export const AUDIT_FILE = ".palisade/audit.db";

// `records` is the chain; `checkpoints` holds the signed statements that record `upto_seq` had
// `hash`. `kind` is hashed with the body, so it may be indexed and filtered on without being trusted
// any less. Nothing is ever updated or deleted by Palisade.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS records_at ON records (at);
  CREATE TABLE IF NOT EXISTS checkpoints (
    upto_seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    at INTEGER NOT NULL,
    keyid TEXT NOT NULL,
    signature TEXT NOT NULL
  );`;

/** Opens the audit log for appending, creating the file (WAL, synchronous=FULL) and its tables. */
export function openAuditDbForWriting(file: string): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; ${SCHEMA}`);
  return db;
}

/** Opens an existing audit log read-only; throws AUDIT_NOT_FOUND if there is none. */
export function openAuditDbForReading(file: string): DatabaseSync {
  if (!existsSync(file)) {
    throw new PalisadeError(
      AUDIT_NOT_FOUND,
      `No audit log at "${file}": it is created when the app first runs (palisade dev or start)`,
    );
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    db.exec("PRAGMA busy_timeout = 5000");
    db.prepare("SELECT 1 FROM records, checkpoints LIMIT 0").all();
    return db;
  } catch (err) {
    db?.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new PalisadeError(AUDIT_UNREADABLE, `Cannot read the audit log "${file}": ${reason}`, {
      cause: err,
    });
  }
}
