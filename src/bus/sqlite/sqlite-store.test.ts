import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { type CloudEvent, createEvent } from "../../events/index.ts";
import { eventRecordOf, openSqliteStore, type RecordSealer } from "../index.ts";
import { runStoreConformance } from "../store-conformance.ts";
import { createTestSealer, idsOf } from "../store-conformance-kit.ts";

function dbFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-log-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "events.db");
}

test("the SQLite backend passes the store conformance suite", async (t) => {
  await runStoreConformance(t, () => {
    const file = dbFile(t);
    return (options = {}) => openSqliteStore(file, { subscriptions: [], ...options });
  });
});

/** A plaintext store on `file` routing f to every `t.x`. */
const open = (file: string, options: { dedupeWindowMs?: number; sealer?: RecordSealer } = {}) =>
  openSqliteStore(file, { subscriptions: [{ name: "f", on: ["t.x"] }], ...options });

function event(n: number, id?: string): CloudEvent {
  return createEvent(
    { type: "t.x", data: { n }, ...(id ? { id } : {}) },
    { principal: "p", source: "test", hop: 0 },
  );
}

test("the file is in WAL mode with synchronous=FULL (fsync on every commit)", async (t) => {
  const file = dbFile(t);
  const log = open(file);
  await log.events.append([event(1)]);
  await log.close();
  const db = new DatabaseSync(file);
  assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
  db.close();
});

test("concurrent appends share commits (group commit) and none is lost", async (t) => {
  const log = open(dbFile(t));
  t.after(() => log.close());
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => log.events.append([event(i)])));
  assert.equal(results.length, 300);
  assert.equal((await log.events.read(0, 1000)).length, 300);
  assert.equal(log.stats.writes, 300);
  assert.ok(
    log.stats.commits < 300 / 10,
    `expected batching, got ${log.stats.commits} commits for 300 writes`,
  );
});

test("a write that fails in a batch is rejected alone; the rest of the batch commits", async (t) => {
  const log = open(dbFile(t));
  t.after(() => log.close());
  const ok = log.events.append([event(1)]);
  // A cursor value of NULL violates NOT NULL: this write fails inside the shared transaction.
  const bad = log.state.setCursor("c", null as unknown as number);
  const ok2 = log.events.append([event(2)]);
  await assert.rejects(bad);
  await ok;
  await ok2;
  assert.equal((await log.events.read(0, 10)).length, 2);
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
  const log = open(file, { dedupeWindowMs: 1 });
  t.after(() => log.close());
  const [again] = await log.events.append([event(2, "old")]);
  assert.equal(
    again?.duplicate,
    false,
    "stored again: the window has passed and no UNIQUE constraint blocks it",
  );
  assert.deepEqual(
    (await log.events.read(0, 10)).map((s) => s.seq),
    [7, 8],
  );
});

test("a stored event that does not open comes back refused as corrupt and does not stop the ones after it", async (t) => {
  const file = dbFile(t);
  const log = open(file);
  await log.events.append([event(1, "a"), event(2, "b"), event(3, "c")]);
  await log.close();
  const db = new DatabaseSync(file);
  db.prepare("UPDATE events SET body = substr(body, 2) WHERE id = 'b'").run(); // no longer JSON
  db.prepare("UPDATE events SET body = (SELECT body FROM events WHERE id = 'a') WHERE id = 'c'").run();
  db.close();
  const again = open(file);
  t.after(() => again.close());
  const due = await again.queue.take("f", 10);
  assert.deepEqual(idsOf(due), ["a", "b:corrupt", "c:corrupt"]);
  const refused = due[1];
  assert.ok(refused !== undefined && "refused" in refused);
  assert.match(refused.refused.error, /Cannot read event "b"/);
  assert.match((due[2] as { refused: { error: string } }).refused.error, /belongs to another event/);
  assert.deepEqual(
    (await again.events.read(0, 10)).map((s) => s.event.id),
    ["a"],
  );
});

test("a log from before origin-scoped dedupe is migrated: rows kept, recent ones deduped by their principal", async (t) => {
  const file = dbFile(t);
  const old = new DatabaseSync(file);
  old.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, id TEXT NOT NULL,
    type TEXT NOT NULL, body TEXT NOT NULL, accepted_at INTEGER NOT NULL);
    CREATE INDEX events_by_source_id ON events (source, id, seq);`);
  const insert = old.prepare(
    "INSERT INTO events (seq, source, id, type, body, accepted_at) VALUES (?, 'test', ?, 't.x', ?, ?)",
  );
  insert.run(3, "ancient", JSON.stringify(event(1, "ancient")), 0);
  insert.run(9, "recent", JSON.stringify(event(2, "recent")), Date.now());
  old.close();
  const log = open(file);
  t.after(() => log.close());
  const from = (principal: string, id: string) =>
    createEvent({ type: "t.x", data: { n: 0 }, id }, { principal, source: "test", hop: 0 });
  const [resent] = await log.events.append([from("p", "recent")]);
  assert.deepEqual([resent?.duplicate, resent?.seq], [true, 9], "the principal's own resend is a duplicate");
  const [other] = await log.events.append([from("mallory", "recent")]);
  assert.equal(other?.duplicate, false, "another principal's event is not taken for it");
  assert.deepEqual(
    (await log.events.read(0, 10)).map((s) => [s.seq, s.event.id]),
    [
      [3, "ancient"],
      [9, "recent"],
      [10, "recent"],
    ],
  );
});

test("two principals' events with one source and id cannot have their bodies swapped on disk", async (t) => {
  const file = dbFile(t);
  const log = open(file);
  const from = (principal: string, n: number) =>
    createEvent({ type: "t.x", data: { n }, id: "same" }, { principal, source: "shared", hop: 0 });
  const appended = await log.events.append([from("alice", 1), from("mallory", 2)]);
  assert.deepEqual(
    appended.map((a) => a.duplicate),
    [false, false],
  );
  await log.close();
  const db = new DatabaseSync(file);
  const bodies = db.prepare("SELECT seq, body FROM events ORDER BY seq").all();
  const swap = db.prepare("UPDATE events SET body = ? WHERE seq = ?");
  swap.run(String(bodies[1]?.body), Number(bodies[0]?.seq));
  swap.run(String(bodies[0]?.body), Number(bodies[1]?.seq));
  db.close();
  const again = open(file);
  t.after(() => again.close());
  const due = await again.queue.take("f", 10);
  assert.equal(due.length, 2);
  for (const d of due) {
    assert.ok("refused" in d, "a swapped body is refused, not delivered as the other principal's event");
    assert.equal(d.refused.reason, "corrupt");
    assert.match(d.refused.error, /another principal's event/);
  }
});

test("events of a failed append are never served for the later event stored at their position", async (t) => {
  let seals = 0;
  const failsSecondSeal: RecordSealer = {
    seal: (text: string) => {
      seals += 1;
      if (seals === 2) throw new Error("seal failed");
      return text;
    },
    open: (text: string) => text,
    versionOf: () => 0,
    activeVersion: () => 0,
  };
  const log = open(dbFile(t), { sealer: failsSecondSeal });
  t.after(() => log.close());
  await assert.rejects(log.events.append([event(1, "a"), event(2, "b")]), /seal failed/);
  // Over the in-memory cache's size limit, so it would not replace a stale entry at its seq.
  const big = createEvent(
    { type: "t.x", data: { pad: "x".repeat(20 * 1024) }, id: "c" },
    { principal: "p", source: "test", hop: 0 },
  );
  const [c] = await log.events.append([big]);
  assert.ok(c !== undefined);
  assert.deepEqual(
    (await log.events.read(0, 10)).map((s) => [s.seq, s.event.id]),
    [[c.seq, "c"]],
  );
  assert.deepEqual(idsOf(await log.queue.take("f", 10)), ["c"]);
});

test("bodies and errors sealed before the storage seam still open, and reencrypt binds them anew", async (t) => {
  const file = dbFile(t);
  const sealer = createTestSealer();
  const log = open(file, { sealer });
  const [a] = await log.events.append([event(1, "old")]);
  const [d] = await log.queue.take("f", 1);
  assert.ok(a !== undefined && d !== undefined && "event" in d);
  await log.queue.settle(
    { seq: a.seq, target: "f", attempts: 0, eventId: "old", type: "t.x" },
    { kind: "retry", at: Date.now() + 60_000, error: "old error" },
  );
  await log.close();
  // As an earlier version wrote them: bound to "event:<source>\0<id>" and "delivery-error:<seq>\0<target>".
  const db = new DatabaseSync(file);
  t.after(() => db.close());
  const json = JSON.stringify(d.event);
  db.prepare("UPDATE events SET body = ? WHERE seq = ?").run(sealer.seal(json, "event:test\0old"), a.seq);
  db.prepare("UPDATE deliveries SET last_error = ? WHERE seq = ?").run(
    sealer.seal("old error", `delivery-error:${a.seq}\0f`),
    a.seq,
  );
  const again = open(file, { sealer });
  t.after(() => again.close());
  assert.deepEqual((await again.events.read(0, 10))[0]?.event.data, { n: 1 });
  assert.deepEqual(
    (await again.queue.deliveries("old")).map((s) => s.lastError),
    ["old error"],
  );
  assert.equal(await again.maintenance.reencrypt(10), 2, "both count as stale");
  assert.equal(await again.maintenance.reencrypt(10), 0);
  const body = String(db.prepare("SELECT body FROM events WHERE seq = ?").get(a.seq)?.body);
  const record = eventRecordOf({ principal: "p", source: "test", id: "old", type: "t.x" });
  assert.equal(sealer.open(body, record), json, "bound to the current record now");
  assert.deepEqual(
    (await again.queue.deliveries("old")).map((s) => s.lastError),
    ["old error"],
  );
});
