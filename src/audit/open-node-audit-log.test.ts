import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import type { PalisadeError } from "../errors.ts";
import { decodeNodeMessage, nodeGenesis } from "./node-message.ts";
import { openNodeAuditLog } from "./open-node-audit-log.ts";
import { verifyNodeChains } from "./verify-nodes.ts";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const signingKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();

/** A sink standing in for JetStream: stores in order, or fails while `down`. */
function memorySink() {
  const stored: { node: string; id: string; data: string }[] = [];
  const sink = {
    down: false,
    stored,
    async publish(node: string, id: string, data: string) {
      if (sink.down) throw new Error("NATS is away");
      // JetStream drops a message whose id it already has.
      if (!stored.some((m) => m.node === node && m.id === id)) stored.push({ node, id, data });
    },
  };
  return sink;
}

test("a node's chain starts at its own genesis, counts from 1 and is signed on close", async () => {
  const sink = memorySink();
  const log = openNodeAuditLog(sink, { node: "n1", signingKeyPem });
  for (let i = 0; i < 3; i++) log.record({ kind: "app.started", details: { i } });
  await log.close();
  const messages = sink.stored.map((m) => decodeNodeMessage(m.data));
  assert.deepEqual(
    messages.map((m) => (typeof m === "string" ? m : `${m.type}${m.seq}`)),
    ["record1", "record2", "record3", "checkpoint3"],
  );
  const first = messages[0];
  assert.ok(first !== undefined && typeof first !== "string" && first.type === "record");
  assert.equal(first.prevHash, nodeGenesis("n1"));
  const stream = sink.stored.map((m, i) => ({ seq: i + 1, node: m.node, data: m.data }));
  assert.ok(verifyNodeChains(stream, { lastSeq: stream.length, denies: true }, [publicKeyPem]).ok);
});

test("past maxQueued while NATS is away, new records are dropped, counted and reported once; the chain has no gap", async () => {
  const sink = memorySink();
  const errors: PalisadeError[] = [];
  const log = openNodeAuditLog(sink, {
    node: "n2",
    signingKeyPem,
    maxQueued: 3,
    flushMs: 60_000,
    onError: (err) => errors.push(err),
  });
  sink.down = true;
  for (let i = 0; i < 5; i++) log.record({ kind: "ingress.rejected", outcome: "denied", details: { i } });
  assert.equal(log.stats.dropped, 2);
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? "", /being dropped: 3 are waiting/);
  await assert.rejects(log.flush(), { code: "PAL_AUDIT_WRITE_FAILED", message: /stay queued/ });
  sink.down = false;
  await log.close();
  assert.equal(log.stats.records, 3);
  const stream = sink.stored.map((m, i) => ({ seq: i + 1, node: m.node, data: m.data }));
  const result = verifyNodeChains(stream, { lastSeq: stream.length, denies: true }, [publicKeyPem]);
  assert.ok(result.ok);
  assert.equal(result.nodes[0]?.records, 3);
});

test("a message moved to another node's subject is found", async () => {
  const sink = memorySink();
  const log = openNodeAuditLog(sink, { node: "n3", signingKeyPem });
  log.record({ kind: "app.started" });
  await log.close();
  const stream = sink.stored.map((m, i) => ({ seq: i + 1, node: "n4", data: m.data }));
  const result = verifyNodeChains(stream, { lastSeq: stream.length, denies: true }, [publicKeyPem]);
  assert.ok(!result.ok);
  assert.match(result.problem, /on node n4's subject is node n3's/);
});

test("a record published twice (a retry after the duplicate window) is one record; two that differ are a forgery", async () => {
  const sink = memorySink();
  const log = openNodeAuditLog(sink, { node: "n5", signingKeyPem });
  log.record({ kind: "app.started" });
  log.record({ kind: "secret.set", subject: "K" });
  await log.close();
  const stored = sink.stored.map((m) => m.data);
  const check = (datas: string[]) =>
    verifyNodeChains(
      datas.map((data, i) => ({ seq: i + 1, node: "n5", data })),
      { lastSeq: datas.length, denies: true },
      [publicKeyPem],
    );
  assert.ok(check([...stored, stored[0] ?? ""]).ok);
  const forged = (stored[0] ?? "").replace('"app.started"', '"app.stopped"');
  const result = check([...stored, forged]);
  assert.ok(!result.ok);
  assert.equal(result.firstBad, 1);
  assert.match(result.problem, /appears twice, differently/);
});
