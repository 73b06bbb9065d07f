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

const SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENDER_SPAN = "00f067aa0ba902b7";

/** Tracing that records every span into `memory` (no OTLP, whatever the environment says). */
function recordedTracing(
  t: TestContext,
  memory: InMemorySpanExporter,
  app?: string,
): ReturnType<typeof createTracing> {
  const tracing = createTracing({ immediate: [memory], otlpFromEnv: false, ...(app ? { app } : {}) });
  t.after(() => tracing.close());
  return tracing;
}

test("a span continues the sender's tracestate and hands it on with its own traceparent", (t) => {
  const memory = new InMemorySpanExporter();
  const tracing = recordedTracing(t, memory);
  const span = tracing.start("ingress x", {
    traceparent: `00-${SENDER_TRACE}-${SENDER_SPAN}-01`,
    tracestate: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
  });
  assert.equal(span.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  assert.match(span.traceparent, new RegExp(`^00-${SENDER_TRACE}-[0-9a-f]{16}-01$`));
  const child = tracing.start("dispatch f", span);
  assert.equal(child.tracestate, span.tracestate);
  child.end();
  span.end();
  const [recorded] = memory.getFinishedSpans().filter((s) => s.name === "ingress x");
  assert.equal(recorded?.parentSpanContext?.spanId, SENDER_SPAN);
  assert.equal(recorded?.spanContext().traceState?.serialize(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
});

test("a later version's traceparent is continued; version ff and extra fields on 00 start a new trace", (t) => {
  const tracing = recordedTracing(t, new InMemorySpanExporter());
  const future = tracing.start("a", {
    traceparent: `42-${SENDER_TRACE}-${SENDER_SPAN}-01-more-fields`,
    tracestate: "k=v",
  });
  assert.equal(future.traceparent.split("-")[1], SENDER_TRACE);
  assert.equal(future.tracestate, "k=v");
  for (const bad of [`ff-${SENDER_TRACE}-${SENDER_SPAN}-01`, `00-${SENDER_TRACE}-${SENDER_SPAN}-01-x`]) {
    const span = tracing.start("b", { traceparent: bad, tracestate: "k=v" });
    assert.notEqual(span.traceparent.split("-")[1], SENDER_TRACE, bad);
    assert.equal(span.tracestate, undefined, "the tracestate of an invalid traceparent is dropped");
  }
});

test("an unsampled trace hands its tracestate on without recording", (t) => {
  const memory = new InMemorySpanExporter();
  const tracing = createTracing({ batched: [memory], otlpFromEnv: false });
  t.after(() => tracing.close());
  const span = tracing.start("x", { traceparent: `00-${SENDER_TRACE}-${SENDER_SPAN}-00`, tracestate: "a=1" });
  assert.match(span.traceparent, new RegExp(`^00-${SENDER_TRACE}-[0-9a-f]{16}-00$`));
  assert.equal(span.tracestate, "a=1");
});

test("spans name the service palisade, its version and the app as namespace by default", (t) => {
  for (const name of ["OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"]) {
    const before = process.env[name];
    delete process.env[name];
    t.after(() => {
      if (before !== undefined) process.env[name] = before;
    });
  }
  const memory = new InMemorySpanExporter();
  recordedTracing(t, memory, "shop").start("x", undefined).end();
  const attributes = memory.getFinishedSpans()[0]?.resource.attributes ?? {};
  assert.equal(attributes["service.name"], "palisade");
  assert.equal(attributes["service.namespace"], "shop");
  assert.match(String(attributes["service.version"]), /^\d+\.\d+\.\d+/);
  assert.equal(attributes["telemetry.sdk.language"], "nodejs");
});
