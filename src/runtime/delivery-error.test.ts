import assert from "node:assert/strict";
import { test } from "node:test";
import { PalisadeError } from "../errors.ts";
import { deliveryError } from "./delivery-error.ts";
import { RUNTIME_DENIED, RUNTIME_LOAD_FAILED, RUNTIME_TIMEOUT } from "./errors.ts";

const guest = (code: string) => new PalisadeError(code, "from the function", { retryable: true });

test("the runtime's own failures that no retry cures are final, with their reason", () => {
  const e = deliveryError(new PalisadeError(RUNTIME_LOAD_FAILED, "cannot load"));
  assert.equal(e.retryable, false);
  assert.equal(e.deadLetter, "load-failed");
  assert.equal(e.message, "cannot load");
  const timeout = deliveryError(new PalisadeError(RUNTIME_TIMEOUT, "slow", { retryable: true }));
  assert.equal(timeout.deadLetter, undefined, "a timeout may pass: retried");
});

test("a function that claims a platform code does not dead-letter its delivery", () => {
  const e = deliveryError(guest(RUNTIME_DENIED));
  assert.equal(e.retryable, true);
  assert.equal(e.deadLetter, undefined);
});

test("a function passing on the host's final refusal ends the delivery with the refusal's reason", () => {
  const hop = new PalisadeError("PAL_EVENT_HOP_LIMIT", "too deep", { deadLetter: "hop-limit" });
  assert.equal(deliveryError(guest("PAL_EVENT_HOP_LIMIT"), hop).deadLetter, "hop-limit");
  const denied = new PalisadeError(RUNTIME_DENIED, "no");
  assert.equal(deliveryError(guest(RUNTIME_DENIED), deliveryError(denied)).deadLetter, "denied");
  // Something else thrown after a refusal it caught: retried as the function's own failure.
  assert.equal(deliveryError(guest("CARD_DECLINED"), hop).deadLetter, undefined);
});
