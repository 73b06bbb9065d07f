import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../errors.ts";
import { checkCompatibility } from "./check-compatibility.ts";
import { SCHEMA_BREAKING } from "./errors.ts";

/** One registered version of an event type's schema. */
export interface SchemaVersion {
  readonly type: string;
  readonly version: number;
  readonly digest: string;
  readonly schema: object;
}

/** The history of every event type's schema (versions 1, 2, …), kept with the app's data. */
export interface SchemaStore {
  latest(type: string): SchemaVersion | undefined;
  add(type: string, schema: object): SchemaVersion;
  /**
   * Runs `fn` holding the store's write lock, so reading the latest versions and adding the next
   * ones is one step even when several processes start on one app directory at once.
   */
  exclusive<T>(fn: () => T): T;
  close(): void;
}

/** Opens the embedded schema history in SQLite at `file`. */
export function openSchemaStore(file: string): SchemaStore {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  // Several roles may start on one app directory at once (a gateway and a worker beside it): they
  // wait for each other's writes rather than fail with "database is locked".
  db.exec(`PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS schemas (type TEXT NOT NULL, version INTEGER NOT NULL, digest TEXT NOT NULL,
      schema TEXT NOT NULL, registered_at INTEGER NOT NULL, PRIMARY KEY (type, version)) WITHOUT ROWID;`);
  const latest = db.prepare(
    "SELECT version, digest, schema FROM schemas WHERE type = ? ORDER BY version DESC LIMIT 1",
  );
  const insert = db.prepare(
    "INSERT INTO schemas (type, version, digest, schema, registered_at) VALUES (?, ?, ?, ?, ?)",
  );
  const read = (type: string): SchemaVersion | undefined => {
    const row = latest.get(type);
    if (row === undefined) return undefined;
    return {
      type,
      version: Number(row.version),
      digest: String(row.digest),
      schema: JSON.parse(String(row.schema)) as object,
    };
  };
  return {
    latest: read,
    add(type, schema) {
      const version = (read(type)?.version ?? 0) + 1;
      insert.run(type, version, digestOf(schema), JSON.stringify(schema), Date.now());
      return { type, version, digest: digestOf(schema), schema };
    },
    exclusive(fn) {
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = fn();
        db.exec("COMMIT");
        return result;
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
    },
    close: () => db.close(),
  };
}

/**
 * Registers the app's current schemas: unchanged ones keep their version, changed ones get the next
 * version if they are backward compatible with the previous one. A breaking change is refused
 * (nothing is registered) unless `allowBreaking`. Returns type → version in force.
 */
export function registerSchemas(
  store: SchemaStore,
  schemas: ReadonlyMap<string, object>,
  allowBreaking: boolean,
): Map<string, number> {
  return store.exclusive(() => registerLocked(store, schemas, allowBreaking));
}

function registerLocked(
  store: SchemaStore,
  schemas: ReadonlyMap<string, object>,
  allowBreaking: boolean,
): Map<string, number> {
  const plan: { type: string; schema: object; current: SchemaVersion | undefined }[] = [];
  const breaking: string[] = [];
  for (const [type, schema] of schemas) {
    const current = store.latest(type);
    if (current?.digest === digestOf(schema)) continue;
    if (current !== undefined && !allowBreaking) {
      const reasons = checkCompatibility(current.schema, schema);
      if (reasons.length > 0)
        breaking.push(`"${type}" v${current.version} → v${current.version + 1}: ${reasons.join("; ")}`);
    }
    plan.push({ type, schema, current });
  }
  if (breaking.length > 0) {
    throw new PalisadeError(
      SCHEMA_BREAKING,
      `Schema change would reject events the previous version accepted:\n  ${breaking.join("\n  ")}\nMake the change compatible, or register it anyway with --allow-breaking`,
      { status: 400, details: breaking },
    );
  }
  for (const p of plan) store.add(p.type, p.schema);
  return new Map([...schemas.keys()].map((type) => [type, store.latest(type)?.version ?? 1]));
}

// Canonical JSON (sorted keys), so reformatting a schema file is not a new version.
function digestOf(schema: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash("sha256")
    .update(JSON.stringify(canonical(schema)))
    .digest("hex");
}
