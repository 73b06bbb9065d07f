import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteKvStore } from "./index.ts";

function tempFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-kv-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "kv.db");
}

test("values are JSON, kept per namespace, and survive reopening", async (t) => {
  const file = tempFile(t);
  const kv = openSqliteKvStore(file);
  await kv.set("orders", "o-1", { state: "charged", amount: 12.5 });
  await kv.set("other", "o-1", "elsewhere");
  assert.deepEqual(await kv.get("orders", "o-1"), { state: "charged", amount: 12.5 });
  assert.equal(await kv.get("orders", "missing"), undefined);
  await kv.close();
  const again = openSqliteKvStore(file);
  t.after(() => again.close());
  assert.deepEqual(await again.get("orders", "o-1"), { state: "charged", amount: 12.5 });
  assert.equal(await again.get("other", "o-1"), "elsewhere");
  assert.equal(await again.delete("orders", "o-1"), true);
  assert.equal(await again.delete("orders", "o-1"), false);
  assert.equal(await again.get("orders", "o-1"), undefined);
});

test("list pages through keys in order, by prefix, within one namespace", async (t) => {
  const kv = openSqliteKvStore(tempFile(t));
  t.after(() => kv.close());
  for (const key of ["a:3", "a:1", "b:1", "a:2", "a%", "a_"]) await kv.set("ns", key, 1);
  await kv.set("other", "a:0", 1);
  const first = await kv.list("ns", { prefix: "a:", limit: 2 });
  assert.deepEqual(first, { keys: ["a:1", "a:2"], next: "a:2" });
  const second = await kv.list("ns", { prefix: "a:", after: first.next ?? "", limit: 2 });
  assert.deepEqual(second, { keys: ["a:3"] });
  // LIKE wildcards in a prefix are plain characters.
  assert.deepEqual((await kv.list("ns", { prefix: "a%", limit: 10 })).keys, ["a%"]);
  assert.deepEqual((await kv.list("ns", { limit: 10 })).keys, ["a%", "a:1", "a:2", "a:3", "a_", "b:1"]);
});

test("concurrent writes share commits, and each one is stored", async (t) => {
  const kv = openSqliteKvStore(tempFile(t));
  t.after(() => kv.close());
  await Promise.all(Array.from({ length: 500 }, (_, i) => kv.set("flood", `k${i}`, { i })));
  const { commits, writes } = kv.writeStats();
  assert.equal(writes, 500);
  assert.ok(commits < 10, `500 concurrent writes took ${commits} commits`);
  assert.deepEqual(await kv.get("flood", "k499"), { i: 499 });
  assert.equal((await kv.list("flood", { limit: 1000 })).keys.length, 500);
});

test("a namespace quota refuses the write that would go over it and keeps every earlier one", async (t) => {
  const file = tempFile(t);
  const kv = openSqliteKvStore(file);
  const value = "x".repeat(1000);
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => kv.set("small", `k${i}`, value, { maxNamespaceBytes: 10_000 })),
  );
  const stored = results.filter((r) => r.status === "fulfilled").length;
  assert.equal(stored, 9, "each entry is 1002 value bytes plus its key");
  const refused = results.find((r) => r.status === "rejected");
  assert.equal(refused?.status === "rejected" && refused.reason.code, "PAL_KV_QUOTA_EXCEEDED");
  assert.match(
    String(refused?.status === "rejected" && refused.reason.message),
    /namespace "small".*quota of 10000/,
  );
  // Other namespaces, overwrites that do not grow, and deletes still work; deleting frees room.
  await kv.set("other", "k", value, { maxNamespaceBytes: 10_000 });
  await kv.set("small", "k0", "y".repeat(1000), { maxNamespaceBytes: 10_000 });
  await assert.rejects(kv.set("small", "new", value, { maxNamespaceBytes: 10_000 }), {
    code: "PAL_KV_QUOTA_EXCEEDED",
  });
  assert.equal(await kv.delete("small", "k1"), true);
  await kv.set("small", "new", value, { maxNamespaceBytes: 10_000 });
  await kv.close();
  // The figure is read back from the file after a restart.
  const again = openSqliteKvStore(file);
  t.after(() => again.close());
  await assert.rejects(again.set("small", "more", value, { maxNamespaceBytes: 10_000 }), {
    code: "PAL_KV_QUOTA_EXCEEDED",
  });
  assert.equal((await again.list("small", { limit: 100 })).keys.length, 9);
});

test("close lets queued writes commit, and a write after close is refused without touching the file", async (t) => {
  const file = tempFile(t);
  const kv = openSqliteKvStore(file);
  const queued = kv.set("ns", "queued", 1);
  await kv.close();
  await queued;
  await assert.rejects(kv.set("ns", "late", 2), { code: "PAL_KV_CLOSED" });
  await assert.rejects(kv.delete("ns", "queued"), { code: "PAL_KV_CLOSED" });
  const again = openSqliteKvStore(file);
  t.after(() => again.close());
  assert.equal(await again.get("ns", "queued"), 1);
  assert.equal(await again.get("ns", "late"), undefined);
});
