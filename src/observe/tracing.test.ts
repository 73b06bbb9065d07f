import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { createTracing } from "./tracing.ts";

const sampled = (traceparent: string): boolean => traceparent.endsWith("-01");

/** Tracing without a collector (its budgets apply: 200 traces, 1,000 spans a second) on a mocked clock at `now`. */
function budgetedTracing(t: TestContext, now: number): ReturnType<typeof createTracing> {
  t.mock.timers.enable({ apis: ["Date"], now });
  const tracing = createTracing({
    batched: [new InMemorySpanExporter()],
    otlpFromEnv: false,
    tracesPerSecond: 200,
    spansPerSecond: 1000,
  });
  t.after(() => tracing.close());
  return tracing;
}

/** One event fanned out to `width` functions: an ingress span, then a dispatch and an invoke each. */
function fanOutTrace(tracing: ReturnType<typeof createTracing>, width: number): string {
  const ingress = tracing.start("ingress fan.ping", undefined);
  for (let i = 0; i < width; i++) {
    const dispatch = tracing.start(`dispatch f${i}`, ingress.traceparent);
    tracing.start(`invoke f${i}`, dispatch.traceparent).end();
    dispatch.end();
  }
  ingress.end();
  return ingress.traceparent;
}

test("sampling stops taking new traces while wide traces have used up the span budget", (t) => {
  const tracing = budgetedTracing(t, 1_000_000);

  // Each trace is 101 spans: the first ten fit the budget of 1000, the rest of the second does not,
  // although 20 traces are well under 200 traces a second.
  const first = Array.from({ length: 20 }, () => sampled(fanOutTrace(tracing, 50)));
  assert.deepEqual(
    first,
    Array.from({ length: 20 }, (_, i) => i < 10),
  );

  // The tenth trace left the budget 10 spans in debt, paid off at 1000 spans a second (one a ms).
  t.mock.timers.tick(5);
  assert.equal(sampled(fanOutTrace(tracing, 50)), false);
  t.mock.timers.tick(10);
  assert.equal(sampled(fanOutTrace(tracing, 50)), true);
});

test("narrow traces are still sampled up to the traces-per-second budget", (t) => {
  const tracing = budgetedTracing(t, 2_000_000);
  // One function per event (3 spans): 200 traces are 600 spans, within both budgets.
  const taken = Array.from({ length: 250 }, () => sampled(fanOutTrace(tracing, 1))).filter(Boolean);
  assert.equal(taken.length, 200);
});

test("a clock stepped back does not stop sampling for the length of the step", (t) => {
  const tracing = budgetedTracing(t, 3_600_000 * 10);
  // Ten wide traces use up the budget (10 spans in debt), then the clock steps back an hour (an NTP
  // correction): the debt is still paid off at one span a ms, not owed for the hour stepped back.
  for (let i = 0; i < 10; i++) assert.equal(sampled(fanOutTrace(tracing, 50)), true);
  assert.equal(sampled(fanOutTrace(tracing, 50)), false);
  t.mock.timers.setTime(3_600_000 * 9);
  assert.equal(sampled(fanOutTrace(tracing, 50)), false);
  t.mock.timers.tick(1000);
  assert.equal(sampled(fanOutTrace(tracing, 50)), true);
});
