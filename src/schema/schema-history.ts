import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { SchemaVersion } from "./schema-store.ts";

/** The schema history's file inside an app's data dir (`prepareApp` registers versions there). */
export const SCHEMAS_FILE = "schemas.db";

/** One stored version of an event type's schema, with when it was registered. */
export interface RegisteredSchema extends SchemaVersion {
  /** When `dev` or `start` registered it (ms). */
  readonly registeredAt: number;
}

/**
 * Every version the schema history at `file` holds, by type and then version; empty when the app
 * never registered one (no file). Opened read-only: a running app's registrations are not disturbed
 * (a reader of a WAL database never blocks its writer).
 */
export function readSchemaHistory(file: string): RegisteredSchema[] {
  if (!existsSync(file)) return [];
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schemas'").get();
    if (table === undefined) return [];
    return db
      .prepare("SELECT type, version, digest, schema, registered_at FROM schemas ORDER BY type, version")
      .all()
      .map((row) => ({
        type: String(row.type),
        version: Number(row.version),
        digest: String(row.digest),
        schema: JSON.parse(String(row.schema)) as object,
        registeredAt: Number(row.registered_at),
      }));
  } finally {
    db.close();
  }
}
