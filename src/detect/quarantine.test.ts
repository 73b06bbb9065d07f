import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteStore } from "../bus/index.ts";
import { openQuarantine } from "./quarantine.ts";

test("a quarantine is shared through the store: another process's release and hold are seen on refresh", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-quarantine-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "events.db");
  const a = openSqliteStore(file, { subscriptions: [] });
  const b = openSqliteStore(file, { subscriptions: [] });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const here = await openQuarantine(a.state, ["f", "g"]);
  const there = await openQuarantine(b.state, ["f", "g"]);
  await here.impose("f", 1_000);
  assert.equal(here.held("f"), true);
  assert.equal(there.held("f"), false, "not seen before a refresh");
  assert.deepEqual(await there.refresh(), { lifted: [], imposed: ["f"] });
  assert.deepEqual(there.list(), [{ fn: "f", since: 1_000 }]);
  assert.equal(await there.lift("f"), true);
  assert.deepEqual(await here.refresh(), { lifted: ["f"], imposed: [] });
  assert.equal(here.held("f"), false);
  assert.equal(await here.lift("f"), false, "lifting what is not held says so");
  assert.equal(here.held("g"), false);
  await assert.rejects(here.impose("nobody", 1), /No function named "nobody"/);
});

test("a hold whose write failed holds here and is written on the next refresh, not lifted by it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-quarantine-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, "events.db"), { subscriptions: [] });
  t.after(() => store.close());
  let failWrites = true;
  const state = {
    ...store.state,
    setCursor: (name: string, value: number) =>
      failWrites ? Promise.reject(new Error("disk full")) : store.state.setCursor(name, value),
  };
  const q = await openQuarantine(state, ["f"]);
  await assert.rejects(q.impose("f", 5), /disk full/);
  assert.equal(q.held("f"), true, "held here at once");
  await assert.rejects(q.refresh(), /disk full/);
  assert.equal(q.held("f"), true, "a failed refresh changes nothing");
  failWrites = false;
  assert.deepEqual(await q.refresh(), { lifted: [], imposed: [] });
  assert.equal(q.held("f"), true);
  assert.equal(await store.state.cursor("quarantine:function:f"), 5, "written once the store takes it");
});
