import assert from "node:assert/strict";
import { test } from "node:test";
import { isRetryOf, WEBHOOK_DIGEST_EXTENSION, webhookBodyDigest } from "./webhook-retry.ts";

test("a retry is the same raw bytes; an event stored before digests were kept is compared by its data", () => {
  const body = Buffer.from('{"amount":7}');
  const digest = webhookBodyDigest(body);
  assert.match(digest, /^[0-9a-f]{64}$/);
  const kept = { data: { amount: 7 }, extensions: { [WEBHOOK_DIGEST_EXTENSION]: digest } };
  assert.equal(isRetryOf([kept], digest, { amount: 7 }), true);
  // The same data from other bytes is not the message the sender signed first.
  const respaced = webhookBodyDigest(Buffer.from('{ "amount": 7 }'));
  assert.equal(isRetryOf([kept], respaced, { amount: 7 }), false);
  // Stored before the digest was kept: the data decides.
  const legacy = { data: { amount: 7 } };
  assert.equal(isRetryOf([legacy], respaced, { amount: 7 }), true);
  assert.equal(isRetryOf([legacy], digest, { amount: 8 }), false);
  // Nothing stored to compare with (the event is gone): refused, not taken for a retry.
  assert.equal(isRetryOf([], digest, { amount: 7 }), false);
});
