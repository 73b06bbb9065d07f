import type { DatabaseSync } from "node:sqlite";
import type { DeliveryMac } from "./delivery-mac.ts";
import { MIGRATE_UNIQUE_SQL, SCHEMA_SQL } from "./schema-sql.ts";

/**
 * Brings a log file of any earlier version up to the current schema, in place. Delivery rows that
 * exist when their `mac` column is first added were written by the platform before rows were
 * authenticated: they are signed once, here, so pending work survives the upgrade.
 */
export function migrateLog(
  db: DatabaseSync,
  deliveryMac: (db: DatabaseSync) => DeliveryMac,
  migrateOrigin: (db: DatabaseSync) => void,
): DeliveryMac {
  const existing = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
  if (String(existing?.sql ?? "").includes("UNIQUE (source, id)"))
    db.exec(`BEGIN; ${MIGRATE_UNIQUE_SQL} COMMIT;`);
  migrateOrigin(db); // before SCHEMA_SQL, whose index names the origin column
  db.exec(SCHEMA_SQL);
  const columns = db
    .prepare("SELECT name FROM pragma_table_info('deliveries')")
    .all()
    .map((c) => c.name);
  for (const [column, type] of [
    ["dead_reason", "TEXT"],
    ["replayed_by", "TEXT"],
    ["replayed_at", "INTEGER"],
  ]) {
    if (!columns.includes(column)) db.exec(`ALTER TABLE deliveries ADD COLUMN ${column} ${type}`);
  }
  if (columns.includes("mac")) return deliveryMac(db);
  db.exec("BEGIN");
  try {
    db.exec("ALTER TABLE deliveries ADD COLUMN mac TEXT");
    const mac = deliveryMac(db);
    mac.backfill();
    db.exec("COMMIT");
    return mac;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
