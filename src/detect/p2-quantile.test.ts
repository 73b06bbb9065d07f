import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../test/kit/seeded-random.ts";
import { createP2Quantile } from "./p2-quantile.ts";

const random = seededRandom;

const exact = (xs: readonly number[], p: number) => {
  const sorted = xs.toSorted((a, b) => a - b);
  return sorted[Math.ceil(p * sorted.length) - 1] ?? Number.NaN;
};

test("P² follows the median and the 99th percentile of uniform and skewed streams", () => {
  const rnd = random(7);
  const streams = {
    uniform: Array.from({ length: 20_000 }, () => 100 + 50 * rnd()),
    // Exponential: a long right tail, like durations.
    exponential: Array.from({ length: 20_000 }, () => -40 * Math.log(1 - rnd())),
  };
  for (const [name, xs] of Object.entries(streams)) {
    for (const p of [0.5, 0.99]) {
      const q = createP2Quantile(p);
      for (const x of xs) q.add(x);
      const want = exact(xs, p);
      assert.ok(
        Math.abs(q.value() - want) / want < 0.05,
        `${name} p${p * 100}: estimate ${q.value()}, exact ${want}`,
      );
      assert.equal(q.count(), xs.length);
    }
  }
});

test("before five observations it is the sample quantile; empty, NaN", () => {
  const q = createP2Quantile(0.5);
  assert.ok(Number.isNaN(q.value()));
  for (const x of [30, 10, 20]) q.add(x);
  assert.equal(q.value(), 20);
  const top = createP2Quantile(0.99);
  for (const x of [3, 1, 2, 5, 4, 6]) top.add(x);
  assert.ok(top.value() >= 3 && top.value() <= 6);
});
