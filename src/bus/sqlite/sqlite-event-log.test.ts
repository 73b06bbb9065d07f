import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { type CloudEvent, createEvent } from "../../events/index.ts";
import { openSqliteEventLog } from "../index.ts";

function dbFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-log-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "events.db");
}

function event(n: number, id?: string): CloudEvent {
  return createEvent(
    { type: "t.x", data: { n }, ...(id ? { id } : {}) },
    { principal: "p", source: "test", hop: 0 },
  );
}

test("appended events survive closing and reopening the file", async (t) => {
  const file = dbFile(t);
  const log = openSqliteEventLog(file);
  const [a] = await log.append([event(1)]);
  await log.close();
  const again = openSqliteEventLog(file);
  t.after(() => again.close());
  const stored = await again.readAfter(0, 10);
  assert.equal(stored.length, 1);
  assert.equal(stored[0]?.event.id, a?.id);
  assert.deepEqual(stored[0]?.event.data, { n: 1 });
});

test("the file is in WAL mode with synchronous=FULL (fsync on every commit)", async (t) => {
  const file = dbFile(t);
  const log = openSqliteEventLog(file);
  await log.append([event(1)]);
  await log.close();
  const db = new DatabaseSync(file);
  assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
  db.close();
});

test("concurrent appends share commits (group commit) and none is lost", async (t) => {
  const log = openSqliteEventLog(dbFile(t));
  t.after(() => log.close());
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append([event(i)])));
  assert.equal(results.length, 300);
  assert.equal((await log.readAfter(0, 1000)).length, 300);
  assert.equal(log.stats.writes, 300);
  assert.ok(
    log.stats.commits < 300 / 10,
    `expected batching, got ${log.stats.commits} commits for 300 writes`,
  );
});

test("an event with the same source and id is stored once and reported as a duplicate", async (t) => {
  const log = openSqliteEventLog(dbFile(t));
  t.after(() => log.close());
  const [first] = await log.append([event(1, "same")]);
  const [second] = await log.append([event(2, "same")]);
  assert.equal(first?.duplicate, false);
  assert.equal(second?.duplicate, true);
  assert.equal(second?.seq, first?.seq);
  assert.equal((await log.readAfter(0, 10)).length, 1);
});

test("a write that fails in a batch is rejected alone; the rest of the batch commits", async (t) => {
  const log = openSqliteEventLog(dbFile(t));
  t.after(() => log.close());
  const ok = log.append([event(1)]);
  // A cursor position of NULL violates NOT NULL: this write fails inside the shared transaction.
  const bad = log.route("c", null as unknown as number, []);
  const ok2 = log.append([event(2)]);
  await assert.rejects(bad);
  await ok;
  await ok2;
  assert.equal((await log.readAfter(0, 10)).length, 2);
});

test("deliveries move from pending to delivered or failed with the reason, and retries wait until due", async (t) => {
  const log = openSqliteEventLog(dbFile(t));
  t.after(() => log.close());
  const [a] = await log.append([event(1, "e1")]);
  assert.ok(a);
  await log.route("dispatch", a.seq, [
    { seq: a.seq, target: "f" },
    { seq: a.seq, target: "g" },
  ]);
  assert.equal(await log.cursor("dispatch"), a.seq);
  assert.equal((await log.due("f", Date.now(), 10)).length, 1);

  const later = Date.now() + 60_000;
  await log.settle(a.seq, "f", { kind: "retry", at: later, error: "boom" });
  assert.equal((await log.due("f", Date.now(), 10)).length, 0);
  assert.equal((await log.due("f", later, 10))[0]?.attempts, 1);
  // g is still pending and due now, so the earliest due time is g's, not f's retry.
  assert.ok(((await log.nextDue()) ?? Infinity) <= Date.now());

  await log.settle(a.seq, "f", { kind: "failed", reason: "attempts-exhausted", error: "boom again" });
  await log.settle(a.seq, "g", { kind: "delivered" });
  assert.deepEqual(await log.deliveries("e1"), [
    { target: "f", state: "failed", attempts: 2, lastError: "boom again" },
    { target: "g", state: "delivered", attempts: 1, lastError: null },
  ]);
  assert.equal(await log.nextDue(), undefined);
  const [dead] = await log.deadLetters(10);
  assert.deepEqual(
    { ...dead, at: 0 },
    {
      eventId: "e1",
      type: "t.x",
      target: "f",
      attempts: 2,
      reason: "attempts-exhausted",
      error: "boom again",
      at: 0,
    },
  );
});

test("a resend after the dedupe window is stored again; inside it, it is a duplicate", async (t) => {
  const log = openSqliteEventLog(dbFile(t), { dedupeWindowMs: 200 });
  t.after(() => log.close());
  const [first] = await log.append([event(1, "again")]);
  const [inside] = await log.append([event(2, "again")]);
  assert.deepEqual([first?.duplicate, inside?.duplicate], [false, true]);
  await new Promise((r) => setTimeout(r, 300));
  const [after] = await log.append([event(3, "again")]);
  assert.equal(after?.duplicate, false);
  assert.equal((await log.readAfter(0, 10)).length, 2);
});

test("a log created with the old UNIQUE (source, id) table is migrated with its rows and positions", async (t) => {
  const file = dbFile(t);
  const old = new DatabaseSync(file);
  old.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, id TEXT NOT NULL,
    type TEXT NOT NULL, body TEXT NOT NULL, accepted_at INTEGER NOT NULL, UNIQUE (source, id));`);
  old
    .prepare(
      "INSERT INTO events (seq, source, id, type, body, accepted_at) VALUES (7, 'test', 'old', 't.x', ?, 0)",
    )
    .run(JSON.stringify(event(1, "old")));
  old.close();
  const log = openSqliteEventLog(file, { dedupeWindowMs: 1 });
  t.after(() => log.close());
  const [again] = await log.append([event(2, "old")]);
  assert.equal(
    again?.duplicate,
    false,
    "stored again: the window has passed and no UNIQUE constraint blocks it",
  );
  assert.deepEqual(
    (await log.readAfter(0, 10)).map((s) => s.seq),
    [7, 8],
  );
});
