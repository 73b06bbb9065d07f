import assert from "node:assert/strict";
import { test } from "node:test";
import type { Store, StoredEvent } from "../bus/index.ts";
import { listEvents } from "./events-view.ts";

/** A store holding events at `seqs` (a log that lost its prefix and some rows), read as backends do. */
function storeAt(seqs: readonly number[], type = (seq: number) => (seq % 3 === 0 ? "a.x" : "b.y")): Store {
  const held: StoredEvent[] = seqs.map((seq) => ({
    seq,
    acceptedAt: 1000 + seq,
    event: {
      id: `e${seq}`,
      type: type(seq),
      principal: seq % 2 ? "p" : "q",
      source: "s",
      time: "",
      hop: 0,
    } as never,
  }));
  return {
    events: {
      // Like SQLite and NATS: the next `limit` held events after `after`, from the first held one.
      read: async (after: number, limit: number) => held.filter((e) => e.seq > after).slice(0, limit),
      latest: async () => held.at(-1)?.seq ?? 0,
      earliest: async () => held[0]?.seq ?? 0,
    },
    queue: { deliveries: async () => [] },
  } as unknown as Store;
}

async function all(store: Store, filter = {}, limit = 7): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let before: number | undefined;
  for (let pages = 1; ; pages++) {
    const page = await listEvents(store, filter, { ...(before === undefined ? {} : { before }), limit });
    ids.push(...page.events.map((e) => e.id));
    if (page.next === undefined) return { ids, pages };
    assert.ok(before === undefined || page.next < before, "the cursor always moves down");
    before = page.next;
  }
}

test("pages newest first cover every held event once, with gaps and a pruned prefix, and end", async () => {
  const seqs = [...Array.from({ length: 40 }, (_, i) => 100_000 + i * 2), 100_500, 100_501];
  const { ids, pages } = await all(storeAt(seqs));
  assert.deepEqual(
    ids,
    [...seqs].reverse().map((s) => `e${s}`),
  );
  assert.ok(pages <= 7, `${pages} pages for 42 events at 7 a page`);
});

test("filters apply across pages; since stops at the first older event; a cursor past the newest is clamped", async () => {
  const store = storeAt(Array.from({ length: 30 }, (_, i) => i + 1));
  const typed = await all(store, { type: "a.*" }, 4);
  assert.deepEqual(typed.ids, ["e30", "e27", "e24", "e21", "e18", "e15", "e12", "e9", "e6", "e3"]);
  const recent = await listEvents(store, { since: 1000 + 25 }, { limit: 50 });
  assert.deepEqual(
    recent.events.map((e) => e.id),
    ["e30", "e29", "e28", "e27", "e26", "e25"],
  );
  assert.equal(recent.next, undefined);
  const clamped = await listEvents(store, {}, { before: Number.MAX_SAFE_INTEGER, limit: 1 });
  assert.deepEqual(
    clamped.events.map((e) => e.id),
    ["e30"],
  );
  assert.deepEqual((await listEvents(storeAt([]), {})).events, []);
});
