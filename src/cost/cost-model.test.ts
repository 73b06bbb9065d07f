import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_LIMITS, DEFAULT_PRICES, type FunctionSpec } from "../manifest/index.ts";
import { costOf, endOfUtcDay, reserveOf, totalOf, utcDay } from "./cost-model.ts";

test("an attempt is priced like Lambda: a request, GB-seconds, egress GB, 64 KiB payload chunks, calls", () => {
  const parts = costOf(DEFAULT_PRICES, {
    durationMs: 1000,
    memoryMb: 1024,
    payloadBytes: 64 * 1024 + 1,
    egressBytes: 1024 ** 3,
    capabilityCalls: 4,
  });
  assert.deepEqual(parts, {
    request: 200, // $0.20 per million
    compute: 16_667, // 1 GB-second
    egress: 90_000_000, // 1 GB at $0.09
    payload: 2000, // two 64 KiB chunks at $1 per million
    capabilityCalls: 1000, // four at $0.25 per million
  });
  assert.equal(totalOf(parts), 90_019_867);
  // An empty event still counts one chunk, as EventBridge bills.
  assert.equal(
    costOf(DEFAULT_PRICES, {
      durationMs: 0,
      memoryMb: 128,
      payloadBytes: 0,
      egressBytes: 0,
      capabilityCalls: 0,
    }).payload,
    1000,
  );
});

test("the reserve is the most an attempt can cost before it runs: its whole timeout at its memory", () => {
  const fn = { limits: { ...DEFAULT_LIMITS, timeoutMs: 3000, memoryMb: 512 } } as FunctionSpec;
  // 200 (request) + 3 s × 0.5 GB × 16,666.7 (25,000) + 1,000 (one chunk).
  assert.equal(reserveOf(DEFAULT_PRICES, fn, 10), 26_200);
});

test("budgets are per UTC day", () => {
  const at = Date.UTC(2026, 11, 4, 23, 59, 59, 500);
  assert.equal(utcDay(at), "2026-12-04");
  assert.equal(endOfUtcDay(at), Date.UTC(2026, 11, 5));
});
