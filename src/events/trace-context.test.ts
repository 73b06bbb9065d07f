import assert from "node:assert/strict";
import { test } from "node:test";
import type { CloudEvent } from "./cloud-event.ts";
import { createEvent } from "./create-event.ts";
import { nextTraceparent, traceContextOf, withTraceContext } from "./trace-context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const traceOf = (traceparent: string) => traceparent.split("-")[1];

test("a new hop keeps the trace of a valid version-00 traceparent and gets its own span id", () => {
  const next = nextTraceparent(`00-${TRACE}-${SPAN}-01`);
  assert.match(next, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(traceOf(next), TRACE);
  assert.notEqual(next.split("-")[2], SPAN);
});

test("a later version's traceparent is read by its first four fields (W3C Trace Context versioning)", () => {
  assert.equal(traceOf(nextTraceparent(`01-${TRACE}-${SPAN}-01`)), TRACE);
  assert.equal(traceOf(nextTraceparent(`cc-${TRACE}-${SPAN}-09-what-the-future-holds`)), TRACE);
  // What is handed on is always version 00.
  assert.match(nextTraceparent(`cc-${TRACE}-${SPAN}-09-later`), /^00-/);
});

test("an invalid traceparent starts a new trace", () => {
  for (const bad of [
    `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
    `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
    `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero parent id
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper-case hex
    "not a traceparent",
  ]) {
    const next = nextTraceparent(bad);
    assert.match(next, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, bad);
    assert.notEqual(traceOf(next), TRACE, bad);
  }
});

test("an event's trace context is its traceparent and its tracestate extension", () => {
  assert.deepEqual(
    traceContextOf({
      traceparent: `00-${TRACE}-${SPAN}-01`,
      extensions: { tracestate: "rojo=1", other: "x" },
    }),
    { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "rojo=1" },
  );
  assert.deepEqual(traceContextOf({ extensions: { tracestate: 7 } }), {});
});

test("handing an event on sets or removes its tracestate with the hop's and keeps other extensions", () => {
  const event: CloudEvent = {
    ...createEvent(
      { type: "t", data: null, extensions: { tracestate: "old=1", region: "eu" } },
      {
        principal: "p",
        source: "s",
        hop: 0,
      },
    ),
  };
  const hop = `00-${TRACE}-${SPAN}-01`;
  const kept = withTraceContext(event, { traceparent: hop, tracestate: "rojo=2,congo=3" });
  assert.equal(kept.traceparent, hop);
  assert.deepEqual(kept.extensions, { region: "eu", tracestate: "rojo=2,congo=3" });
  const dropped = withTraceContext(event, { traceparent: hop, tracestate: undefined });
  assert.deepEqual(dropped.extensions, { region: "eu" });
  const bare = withTraceContext({ ...event, extensions: { tracestate: "a=1" } }, { traceparent: hop });
  assert.equal("extensions" in bare, false);
  assert.deepEqual(event.extensions, { tracestate: "old=1", region: "eu" }, "the original is not changed");
});
