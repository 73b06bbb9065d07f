import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { signEvent } from "../verifiable/index.ts";
import { createEventVerifier } from "./event-verifier.ts";

const ED = generateKeyPairSync("ed25519");
const P256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
const KEYS = new Map([
  ["ed", ED.publicKey],
  ["p256", P256.publicKey],
]);

function signed(i: number, keyid: "ed" | "p256") {
  const attributes = { specversion: "1.0", id: `e-${i}`, source: "/t", type: "t.x", tenant: `t${i}` };
  const data = Buffer.from(`{"n":${i}}`);
  const privateKey = keyid === "ed" ? ED.privateKey : P256.privateKey;
  return { attributes, data, material: signEvent({ attributes, data }, { keyid, privateKey }, ["tenant"]) };
}

test("a burst of events verified together on the worker: each gets its own verdict, in order", async (t) => {
  const verify = createEventVerifier();
  t.after(() => verify.close());
  const events = Array.from({ length: 40 }, (_, i) => signed(i, i % 2 === 0 ? "ed" : "p256"));
  const results = await Promise.all(
    events.map((e, i) => {
      // Every third one is changed after signing: its data, or its signed extension.
      const data = i % 3 === 0 ? Buffer.from(`{"n":${i + 1}}`) : e.data;
      const attributes = i % 6 === 3 ? { ...e.attributes, tenant: "other" } : e.attributes;
      return verify({ attributes, data }, e.material, KEYS);
    }),
  );
  results.forEach((r, i) => {
    if (i % 3 !== 0) {
      assert.deepEqual(r, { ok: true, keyid: i % 2 === 0 ? "ed" : "p256", signedextattrs: ["tenant"] });
    } else {
      assert.equal(r.ok, false, `event ${i} was changed`);
      assert.equal(r.ok === false && r.reason, "core-mismatch");
    }
  });
  // Another principal's keys (another set) are told apart from the first.
  const stranger = await verify(
    events[1] ?? signed(1, "ed"),
    (events[1] ?? signed(1, "ed")).material,
    new Map([["p256", ED.publicKey]]),
  );
  assert.equal(stranger.ok === false && stranger.reason, "signature");
});

test("without its worker (closed or failed) the verifier checks in process, never lets an event through unchecked", async () => {
  const verify = createEventVerifier();
  const good = signed(1, "ed");
  assert.equal((await verify(good, good.material, KEYS)).ok, true);
  await verify.close();
  assert.equal((await verify(good, good.material, KEYS)).ok, true);
  const forged = await verify({ ...good, data: Buffer.from('{"n":2}') }, good.material, KEYS);
  assert.equal(forged.ok === false && forged.reason, "core-mismatch");
});
