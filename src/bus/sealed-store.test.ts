import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compileFilter, createEvent, type EventFilter } from "../events/index.ts";
import { createSealing } from "./sealed-store.ts";
import { openSqliteRawStore } from "./sqlite/sqlite-store.ts";

test("a take skips what the content filter does not want and takes more in its place", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-sealed-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const filter = compileFilter({ data: { n: [{ numeric: [">", 1] }] } }) as EventFilter;
  const subscriptions = [{ name: "g", on: ["t.x"], filter }];
  // A backend that routes by type only (as a JetStream consumer does): the filter is applied at take.
  const raw = openSqliteRawStore(join(dir, "events.db"), {
    dedupeWindowMs: 60_000,
    subscriptions,
    accepts: () => true,
  });
  const store = createSealing(undefined, subscriptions).wrap({ ...raw, routesByContent: false });
  t.after(() => store.close());
  const ev = (id: string, n: number) =>
    createEvent({ type: "t.x", data: { n }, id }, { principal: "p", source: "test", hop: 0 });
  await store.events.append([ev("a", 0), ev("b", 0), ev("c", 0), ev("d", 2), ev("e", 3), ev("f", 4)]);

  const first = await store.queue.take("g", 2);
  assert.deepEqual(
    first.map((d) => ("event" in d ? d.event.id : d.eventId)),
    ["d", "e"],
    "a short take would tell the dispatcher nothing else is due",
  );
  assert.deepEqual(
    (await store.queue.deliveries("a")).map((d) => d.target),
    [],
    "the ones not wanted are settled as skipped",
  );
  const rest = await store.queue.take("g", 5);
  assert.deepEqual(
    rest.map((d) => ("event" in d ? d.event.id : d.eventId)),
    ["f"],
  );
});
