import assert from "node:assert/strict";
import { test } from "node:test";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createClientBlocks } from "./client-blocks.ts";
import { createCredentialStuffing } from "./credential-stuffing.ts";

const POLICY = { failures: 3, windowSec: 10, ratio: 0.5, blockSec: 60, response: "block" as const };
const rejected = (ip: string, status = 401): SignalOf<"ingress.rejected"> => ({
  kind: "ingress.rejected",
  ip,
  route: "/events",
  reason: "unauthenticated",
  code: "PAL_GATEWAY_UNAUTHENTICATED",
  status,
});
const accepted = (ip: string): SignalOf<"ingress.accepted"> => ({
  kind: "ingress.accepted",
  principal: "p",
  ip,
  route: "/events",
  events: 1,
});

test("failures of one address within the window, over the ratio, are one finding about that address", () => {
  const found: Finding[] = [];
  const d = createCredentialStuffing(POLICY, (f) => found.push(f));
  d.rejected(rejected("a"), 0);
  d.rejected(rejected("a"), 11_000); // the first fell out of the window
  d.rejected(rejected("b"), 11_500); // another address
  d.rejected(rejected("a", 400), 11_600); // bad JSON is not a credential failure
  d.rejected(rejected("a", 429), 11_700); // nor a rate limit
  assert.equal(found.length, 0);
  d.rejected(rejected("a"), 12_000);
  d.rejected(rejected("a", 403), 12_500);
  assert.equal(found.length, 1);
  assert.deepEqual(found[0]?.scope, { kind: "address", name: "a" });
  assert.equal(found[0]?.response, "block");
  for (let i = 0; i < 10; i++) d.rejected(rejected("a"), 13_000 + i);
  assert.equal(found.length, 1, "not again while it is blocked");
  for (let i = 0; i < 3; i++) d.rejected(rejected("a"), 80_000 + i);
  assert.equal(found.length, 2, "again after the block ran out");
});

test("an address whose requests mostly succeed is not a finding for a few failures", () => {
  const found: Finding[] = [];
  const d = createCredentialStuffing(POLICY, (f) => found.push(f));
  for (let i = 0; i < 4; i++) d.accepted(accepted("a"), 1_000 + i);
  for (let i = 0; i < 3; i++) d.rejected(rejected("a"), 2_000 + i);
  assert.equal(found.length, 0, "3 of 7 failed: under the ratio");
  for (let i = 0; i < 3; i++) d.rejected(rejected("a"), 20_000 + i); // the accepted ones are old now
  assert.equal(found.length, 1);
  const off = createCredentialStuffing({ ...POLICY, response: "off" }, (f) => found.push(f));
  for (let i = 0; i < 10; i++) off.rejected(rejected("x"), i);
  assert.equal(found.length, 1);
});

test("a block answers with the seconds left and ends by itself", () => {
  const blocks = createClientBlocks();
  blocks.block("a", 10_000);
  assert.equal(blocks.blocked("a", 0), 10);
  assert.equal(blocks.blocked("a", 9_500), 1);
  assert.equal(blocks.blocked("a", 10_000), undefined);
  assert.equal(blocks.blocked("b", 0), undefined);
});

test("a shared address with many failures among mostly good requests is reported, never blocked", () => {
  const found: Finding[] = [];
  const d = createCredentialStuffing(POLICY, (f) => found.push(f));
  // Twenty good requests, then eight failures: under the ratio and under 3 × the policy's failures.
  for (let i = 0; i < 20; i++) d.accepted(accepted("nat"), 1000 + i);
  for (let i = 0; i < 8; i++) d.rejected(rejected("nat"), 2000 + i);
  assert.equal(found.length, 0);
  d.rejected(rejected("nat"), 3000); // the ninth: 3 × 3, at 9 / 29 < 0.5
  assert.equal(found.length, 1);
  assert.equal(found[0]?.response, "alert", "a block would refuse everyone behind it");
  assert.equal(found[0]?.severity, "medium");
  assert.equal(found[0]?.evidence.shared, true);
  assert.match(found[0]?.summary ?? "", /shared address/);
  d.rejected(rejected("nat"), 3500);
  assert.equal(found.length, 1, "once per window");
});
