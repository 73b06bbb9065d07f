import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryRateLimitStore } from "./index.ts";

const limit = { perSecond: 2, burst: 3 };

test("a bucket allows its burst, then refills at its rate", () => {
  const store = createMemoryRateLimitStore();
  assert.deepEqual(
    [0, 0, 0].map(() => store.take("k", limit, 1, 1000)),
    [0, 0, 0],
  );
  assert.equal(store.take("k", limit, 1, 1000), 500); // one token takes 500 ms at 2/s
  assert.equal(store.take("k", limit, 1, 1500), 0);
  assert.equal(store.take("other", limit, 1, 1500), 0, "buckets are per key");
});

test("a cost larger than the burst can never pass", () => {
  const store = createMemoryRateLimitStore();
  assert.ok(store.take("k", limit, 4, 0) >= 1000);
});

test("the store forgets the least recently used keys beyond its size", () => {
  const store = createMemoryRateLimitStore(2);
  store.take("a", limit, 3, 0);
  store.take("b", limit, 1, 0);
  store.take("c", limit, 1, 0); // evicts "a", whose bucket was empty
  assert.equal(store.take("a", limit, 1, 0), 0);
});

test("a clock behind the bucket's time refills nothing, and cannot make time count twice", () => {
  const store = createMemoryRateLimitStore();
  assert.equal(store.take("k", limit, 3, 10_000), 0); // empty at t = 10 s
  assert.ok(store.take("k", limit, 1, 5_000) > 0, "5 s earlier: no refill");
  assert.ok(store.take("k", limit, 1, 10_000) > 0, "back at 10 s: still none");
  assert.equal(store.take("k", limit, 1, 10_500), 0, "0.5 s later: one token at 2/s");
});

test("through churn far beyond its size, a key in use keeps its bucket and idle keys go", () => {
  const store = createMemoryRateLimitStore(1000);
  store.take("hot", limit, 3, 0); // empty
  for (let i = 0; i < 50_000; i += 1) {
    store.take(`client-${i}`, limit, 1, 0);
    if (i % 100 === 0) assert.ok(store.take("hot", limit, 1, 0) > 0, "the busy key is still limited");
  }
  assert.ok(store.take("hot", limit, 1, 0) > 0);
  assert.equal(store.take("client-0", limit, 3, 0), 0, "an idle key was forgotten: a full bucket again");
});
