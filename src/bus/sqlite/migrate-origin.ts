import type { DatabaseSync } from "node:sqlite";

/**
 * Logs created before dedupe was scoped to the origin have no `origin` column. This adds it and fills
 * it, for the events still inside the dedupe window, with each event's `principal` (the only rows a
 * resend could match); older rows keep NULL, which no origin matches. Rows, positions and sealed
 * bodies are untouched. A body that cannot be opened keeps NULL too: it is kept, only not deduped.
 */
export function migrateOrigin(
  db: DatabaseSync,
  openLegacy: (body: string, source: string, id: string) => string,
  windowStart: number,
): void {
  const table = db.prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
  if (table === undefined) return; // a new log: SCHEMA_SQL creates the column
  const columns = db
    .prepare("SELECT name FROM pragma_table_info('events')")
    .all()
    .map((c) => c.name);
  if (columns.includes("origin")) return;
  const recent = db.prepare("SELECT seq, source, id, body FROM events WHERE accepted_at >= ?");
  db.exec("BEGIN");
  try {
    db.exec("ALTER TABLE events ADD COLUMN origin TEXT");
    const setOrigin = db.prepare("UPDATE events SET origin = ? WHERE seq = ?");
    for (const row of recent.all(windowStart)) {
      const principal = principalOf(() => openLegacy(String(row.body), String(row.source), String(row.id)));
      if (principal !== undefined) setOrigin.run(principal, Number(row.seq));
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

function principalOf(open: () => string): string | undefined {
  try {
    const principal: unknown = (JSON.parse(open()) as { principal?: unknown }).principal;
    return typeof principal === "string" ? principal : undefined;
  } catch {
    return undefined;
  }
}
