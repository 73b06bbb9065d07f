import assert from "node:assert/strict";
import { test } from "node:test";
import { createEvent, MAX_HOP, parseBatch, parseEvent } from "./index.ts";

test("a structured-mode CloudEvent keeps the producer's id, source and subject", () => {
  const draft = parseEvent({
    specversion: "1.0",
    id: "A234-1234-1234",
    source: "https://example.com/storefront",
    type: "order.created",
    subject: "order/1",
    datacontenttype: "application/json",
    data: { n: 1 },
  });
  assert.deepEqual(draft, {
    type: "order.created",
    data: { n: 1 },
    datacontenttype: "application/json",
    id: "A234-1234-1234",
    source: "https://example.com/storefront",
    subject: "order/1",
  });
});

test("the short form needs only type and data", () => {
  assert.deepEqual(parseEvent({ type: "order.created", data: { n: 1 } }), {
    type: "order.created",
    data: { n: 1 },
  });
});

test("a structured event missing required attributes names each pointer", () => {
  assert.throws(
    () => parseEvent({ specversion: "1.0", type: "x.y" }),
    (err: { status: number; details: { pointer: string }[] }) => {
      assert.equal(err.status, 400);
      assert.deepEqual(err.details.map((d) => d.pointer).sort(), ["/id", "/source"]);
      return true;
    },
  );
});

test("a wrong specversion is refused", () => {
  assert.throws(() => parseEvent({ specversion: "0.3", id: "1", source: "s", type: "x.y" }), {
    code: "PAL_EVENT_INVALID",
    details: [{ pointer: "/specversion", message: "must be equal to constant" }],
  });
});

test("a sender cannot set the platform's own extensions (principal, hop, causationid)", () => {
  for (const name of ["principal", "hop", "causationid", "rootid", "rootprincipal"]) {
    assert.throws(() => parseEvent({ type: "x.y", data: {}, [name]: "admin" }), {
      code: "PAL_EVENT_INVALID",
      details: [{ pointer: `/${name}`, message: "is set by the platform; remove it" }],
    });
  }
});

test("unknown attributes and non-object bodies are refused, not dropped", () => {
  assert.throws(() => parseEvent({ type: "x.y", data: {}, priority: "high" }), {
    details: [{ pointer: "/priority", message: "is not an allowed property" }],
  });
  assert.throws(() => parseEvent([{ type: "x.y" }]), { code: "PAL_EVENT_INVALID" });
  assert.throws(() => parseEvent("x.y"), { code: "PAL_EVENT_INVALID" });
  assert.throws(() => parseEvent({ type: "x.y", time: "yesterday" }), {
    details: [{ pointer: "/time", message: 'must match format "date-time"' }],
  });
});

test("enrichment sets id, time, principal, hop and continues the sender's trace", () => {
  const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const event = createEvent(
    { type: "x.y", data: 1, traceparent: parent },
    { principal: "anonymous", source: "s", hop: 0 },
  );
  assert.match(event.id, /^[0-9a-f-]{36}$/);
  assert.equal(event.principal, "anonymous");
  assert.equal(event.hop, 0);
  assert.match(event.traceparent, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  assert.notEqual(event.traceparent, parent);
  const fresh = createEvent(
    { type: "x.y", data: 1, traceparent: "garbage" },
    { principal: "p", source: "s", hop: 1 },
  );
  assert.match(fresh.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(MAX_HOP, 16);
});

test("a sender-set source with the platform's palisade: scheme is refused in any letter case", () => {
  for (const source of ["palisade://webhooks/hooks/stripe", "PALISADE://platform", "Palisade:x"]) {
    assert.throws(
      () => parseEvent({ specversion: "1.0", id: "1", source, type: "order.created", data: { n: 1 } }),
      (err: { status: number; code: string; details: { pointer: string; message: string }[] }) => {
        assert.equal(err.status, 400);
        assert.equal(err.code, "PAL_EVENT_INVALID");
        assert.deepEqual(
          err.details.map((d) => d.pointer),
          ["/source"],
        );
        assert.match(err.details[0]?.message ?? "", /only the platform may use; set a URI of your own/);
        return true;
      },
    );
  }
  // A source merely mentioning palisade elsewhere is the sender's own.
  const draft = parseEvent({
    specversion: "1.0",
    id: "1",
    source: "https://example.com/palisade://x",
    type: "order.created",
  });
  assert.equal(draft.source, "https://example.com/palisade://x");
});

test("a batch with one reserved source is refused whole, naming that event's source", () => {
  const ok = { specversion: "1.0", id: "1", source: "/mine", type: "order.created" };
  assert.throws(
    () => parseBatch([ok, { ...ok, id: "2", source: "palisade://schedules/nightly" }]),
    (err: { status: number; details: { pointer: string }[] }) => {
      assert.equal(err.status, 400);
      assert.deepEqual(
        err.details.map((d) => d.pointer),
        ["/1/source"],
      );
      return true;
    },
  );
});
