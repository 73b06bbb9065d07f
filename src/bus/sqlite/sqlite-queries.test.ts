import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { openSqliteStore } from "../index.ts";
import { QUERY_SQL } from "./sqlite-queries.ts";

/** Partial indexes: they hold pending or dead-lettered rows only, never the delivered history. */
const BOUNDED = /^SCAN \w+ USING (COVERING )?INDEX (deliveries_pending|deliveries_failed)$/;

/** The query plan of `sql` on `db`, one detail line per step. */
function planOf(db: DatabaseSync, sql: string): string[] {
  const params = Array.from(sql.match(/\?/g) ?? [], () => 1);
  return db
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...params)
    .map((row) => String(row.detail));
}

/** A log file with the schema a log has after its migrations (opened once through the store). */
async function migratedLog(t: TestContext): Promise<DatabaseSync> {
  const dir = mkdtempSync(join(tmpdir(), "palisade-plan-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "events.db");
  await openSqliteStore(file, { subscriptions: [] }).close();
  const db = new DatabaseSync(file, { readOnly: true });
  t.after(() => db.close());
  return db;
}

test("no statement of the running log reads the whole history: each plan searches an index", async (t) => {
  const db = await migratedLog(t);
  for (const [name, sql] of Object.entries(QUERY_SQL)) {
    const scans = planOf(db, sql).filter((step) => step.startsWith("SCAN") && !BOUNDED.test(step));
    assert.deepEqual(scans, [], `${name} scans a table: ${planOf(db, sql).join("; ")}`);
  }
});

test("retention finds old events by age, and the DLQ gauge and listing read only dead letters", async (t) => {
  const db = await migratedLog(t);
  for (const name of ["pruneHistory", "pruneDeliveries", "pruneEvents"] as const)
    assert.ok(
      planOf(db, QUERY_SQL[name]).some((s) => s.includes("INDEX events_by_accepted_at (accepted_at<?)")),
      name,
    );
  for (const name of ["countFailed", "deadLetters"] as const) {
    const plan = planOf(db, QUERY_SQL[name]);
    assert.ok(
      plan.some((s) => s.includes("INDEX deliveries_failed")),
      `${name}: ${plan.join("; ")}`,
    );
    assert.ok(!plan.some((s) => s.includes("TEMP B-TREE")), `${name} sorts: ${plan.join("; ")}`);
  }
});

test("one index on the event id serves both lookups by id: finding an event and the dedupe check", async (t) => {
  const db = await migratedLog(t);
  for (const name of ["findRecent", "findById"] as const) {
    const plan = planOf(db, QUERY_SQL[name]);
    assert.ok(
      plan.some((s) => s.includes("INDEX events_by_id_origin_source (id=?")),
      `${name}: ${plan.join("; ")}`,
    );
  }
  // Random ids make each index on them a random page write per insert: only one of them exists.
  const onId = db
    .prepare("SELECT name FROM pragma_index_list('events') WHERE name NOT LIKE 'sqlite_%'")
    .all()
    .map((r) => String(r.name))
    .filter((name) => name.includes("id"));
  assert.deepEqual(onId, ["events_by_id_origin_source"]);
});
