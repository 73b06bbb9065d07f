import type { DatabaseSync } from "node:sqlite";
import { PalisadeError } from "../../errors.ts";
import { BUS_DELIVERY_STATE_TAMPERED } from "../errors.ts";
import type { DeliveryAuthMarker } from "./delivery-auth-marker.ts";
import type { DeliveryMac } from "./delivery-mac.ts";
import { MIGRATE_UNIQUE_SQL, SCHEMA_SQL } from "./schema-sql.ts";

/**
 * Brings a log file of any earlier version up to the current schema, in place. Delivery rows that
 * exist when their `mac` column is first added were written by the platform before rows were
 * authenticated: they are signed once, here, so pending work survives the upgrade; `signed` says how
 * many (callers report it). A log whose marker shows its rows were authenticated is refused instead.
 */
export function migrateLog(
  db: DatabaseSync,
  deliveryMac: (db: DatabaseSync) => DeliveryMac,
  migrateOrigin: (db: DatabaseSync) => void,
  marker: DeliveryAuthMarker,
): { mac: DeliveryMac; signed: number } {
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
  if (columns.includes("mac")) {
    marker.write();
    return { mac: deliveryMac(db), signed: 0 };
  }
  if (marker.verifies()) throw tampered(marker);
  db.exec("BEGIN");
  try {
    db.exec("ALTER TABLE deliveries ADD COLUMN mac TEXT");
    const mac = deliveryMac(db);
    const signed = mac.backfill();
    db.exec("COMMIT");
    marker.write();
    return { mac, signed };
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

function tampered(marker: DeliveryAuthMarker): PalisadeError {
  return new PalisadeError(
    BUS_DELIVERY_STATE_TAMPERED,
    `Cannot open event log "${marker.log}": its delivery rows have no authentication codes (the "mac" column is gone), but "${marker.path}" shows they had them, so delivery state was tampered with. Restore the event log from a backup`,
  );
}
