import assert from "node:assert/strict";
import { test } from "node:test";
import { PalisadeError } from "../errors.ts";
import { deliveryError, finalRefusal } from "./delivery-error.ts";
import { RUNTIME_DENIED, RUNTIME_LOAD_FAILED, RUNTIME_TIMEOUT } from "./errors.ts";

const guest = (code: string) => new PalisadeError(code, "from the function", { retryable: true });

test("the runtime's own failures that no retry cures are final, with their reason", () => {
  const e = deliveryError(new PalisadeError(RUNTIME_LOAD_FAILED, "cannot load")) as PalisadeError;
  assert.equal(e.retryable, false);
  assert.equal(e.deadLetter, "load-failed");
  assert.equal(e.message, "cannot load");
  const timeout = new PalisadeError(RUNTIME_TIMEOUT, "slow", { retryable: true });
  assert.equal(deliveryError(timeout), timeout, "a timeout may pass: retried");
});

test("a function that claims a platform code does not dead-letter its delivery", () => {
  const claimed = guest(RUNTIME_DENIED);
  assert.equal(deliveryError(claimed), claimed, "passed on as it is: retryable, no reason");
  const own = new PalisadeError("ERR_ACCESS_DENIED", "restricted", { retryable: true });
  assert.equal(deliveryError(own), own, "keeps its code");
});

test("a function passing on the host's final refusal ends the delivery with the refusal's reason", () => {
  const hop = new PalisadeError("PAL_EVENT_HOP_LIMIT", "too deep", { deadLetter: "hop-limit" });
  const reason = (err: unknown) => (err as PalisadeError).deadLetter;
  assert.equal(reason(deliveryError(guest("PAL_EVENT_HOP_LIMIT"), hop)), "hop-limit");
  const denied = finalRefusal(new PalisadeError(RUNTIME_DENIED, "no"));
  assert.equal(reason(deliveryError(guest(RUNTIME_DENIED), denied)), "denied");
  // Something else thrown after a refusal it caught: retried as the function's own failure.
  assert.equal(reason(deliveryError(guest("CARD_DECLINED"), hop)), undefined);
});
