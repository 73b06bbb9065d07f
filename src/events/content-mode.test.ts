import assert from "node:assert/strict";
import { test } from "node:test";
import { checkHeaderCopies, contentMode } from "./index.ts";

test("the Content-Type decides the content mode; ce-* headers make binary mode only outside the event formats", () => {
  const ce = { "ce-specversion": "1.0", "ce-type": "t" };
  const cases: [Record<string, string>, string | undefined][] = [
    [{ "content-type": "application/cloudevents+json; charset=utf-8" }, "structured"],
    [{ "content-type": "Application/CloudEvents+JSON", ...ce }, "structured"],
    [{ "content-type": "application/cloudevents-batch+json", ...ce }, "batch"],
    [{ "content-type": "application/cloudevents+xml", ...ce }, undefined],
    [{ "content-type": "application/json", ...ce }, "binary"],
    [{ "content-type": "text/plain", "ce-id": "x" }, "binary"],
    [{ ...ce }, "binary"],
    [{ "content-type": "application/json" }, "plain"],
    [{ "content-type": "text/plain" }, undefined],
    [{}, undefined],
  ];
  for (const [headers, mode] of cases) assert.equal(contentMode(headers), mode, JSON.stringify(headers));
});

test("header copies: exact (percent-decoded, stringified) copies pass; a differing or extra header is named", () => {
  const event = { specversion: "1.0", id: "1", source: "/a b", type: "t", seq: 42, on: true };
  assert.doesNotThrow(() =>
    checkHeaderCopies(
      { "content-type": "x", "ce-source": "/a%20b", "ce-seq": "42", "ce-on": "true", "ce-id": "1" },
      [event],
      false,
    ),
  );
  assert.throws(() => checkHeaderCopies({ "ce-seq": "43", "ce-extra": "1" }, [event], false), {
    code: "PAL_EVENT_INVALID",
    status: 400,
    details: [
      {
        pointer: "/seq",
        message:
          'differs from header "ce-seq"; a structured request carries its event in the body: remove the header or make it an exact copy',
      },
      {
        pointer: "/extra",
        message:
          'is not in the event, but header "ce-extra" sets it; a structured request carries its event in the body: remove the header',
      },
    ],
  });
  assert.throws(() => checkHeaderCopies({ "ce-source": "%ZZ" }, [event], false), {
    code: "PAL_EVENT_INVALID",
  });
});
