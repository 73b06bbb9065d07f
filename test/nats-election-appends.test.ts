/**
 * Appends on NATS ride out a stream leader election (no responders, timeouts) for a bounded wait,
 * then answer 503 with Retry-After; while the broker is unreachable they answer 503 at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RawEvent, RawStore } from "../src/bus/index.ts";
import { guardAppends } from "../src/scale-out.ts";

/** A backend whose appends fail with `errors` in turn, then succeed. */
function flaky(errors: string[]): RawStore & { calls: number } {
  const store = {
    calls: 0,
    async append(events: readonly RawEvent[]) {
      store.calls++;
      const next = errors.shift();
      if (next !== undefined) throw new Error(next);
      return events.map((e, i) => ({ id: e.id, seq: i + 1, duplicate: false }));
    },
  };
  return store as unknown as RawStore & { calls: number };
}

const event: RawEvent = { id: "e1", source: "s", principal: "p", type: "t.x", body: "{}" };
const up = () => undefined;

test("an append JetStream does not answer during a leader election is retried until it is stored", async () => {
  const raw = flaky(["jetstream is not enabled", "503 no responders", "TIMEOUT"]);
  const [stored] = await guardAppends(raw, up, 5_000).append([event]);
  assert.equal(stored?.seq, 1);
  assert.equal(raw.calls, 4);
});

test("past the wait, or for a refusal that is not an election, the append is a 503 with Retry-After", async () => {
  const electing = flaky(Array(100).fill("no responders"));
  await assert.rejects(
    guardAppends(electing, up, 300).append([event]),
    (err: Error & { status?: number; details?: { retryAfterSec?: number } }) => {
      assert.equal(err.status, 503);
      assert.equal(err.details?.retryAfterSec, 1);
      assert.match(err.message, /no responders/);
      return true;
    },
  );
  const refused = flaky(["maximum messages exceeded"]);
  await assert.rejects(guardAppends(refused, up, 5_000).append([event]), /maximum messages exceeded/);
  assert.equal(refused.calls, 1, "not retried");
});

test("while the broker is unreachable an append is a 503 at once, without trying", async () => {
  const raw = flaky([]);
  await assert.rejects(
    guardAppends(raw, () => "NATS at nats://x is unreachable", 5_000).append([event]),
    /unreachable/,
  );
  assert.equal(raw.calls, 0);
});
