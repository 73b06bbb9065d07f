/**
 * The audit log of a NATS deployment against a real nats-server: every node's own hash chain on the
 * app's audit stream, checked by `verifyNodeChains`. Each way to remove or change a record — by an
 * attacker with stream admin rights, who must delete and recreate the whole stream since the server
 * refuses to lift deny_delete — is tried and seen refused, naming the node and the record.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, type TestContext, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  formatNatsAnchor,
  hashRecord,
  type NodesVerifyResult,
  nodeRecords,
  openNodeAuditLog,
  parseNatsAnchor,
  verifyNodeChains,
} from "../src/audit/index.ts";
import { type AuditStream, natsNames, openAuditStream } from "../src/bus/index.ts";
import { isRecord, readStream, rewriteAuditStream } from "./kit/audit-stream.ts";
import { natsUnavailable, startNatsServer, suiteNatsServer } from "./kit/nats-server.ts";

const skip = natsUnavailable();

function keyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}
const KEY = keyPair();
let apps = 0;

async function connected(t: TestContext, url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  t.after(() => nc.close());
  return nc;
}

/** A fresh app's audit stream, and `writers` nodes that each write `n` records and close. */
async function twoNodes(t: TestContext, url: string, n = 5) {
  const nc = await connected(t, url);
  const names = natsNames(`audit${++apps}`);
  const stream = await openAuditStream(nc, names, 1);
  const logs = ["node-a", "node-b"].map((node) =>
    openNodeAuditLog(stream, { node, signingKeyPem: KEY.privateKeyPem, checkpointEvery: 3 }),
  );
  for (let i = 1; i <= n; i++)
    for (const log of logs) log.record({ kind: "ingress.rejected", outcome: "denied", details: { i } });
  for (const log of logs) await log.close();
  return { nc, names, stream };
}

async function verify(stream: AuditStream, trusted = [KEY.publicKeyPem]): Promise<NodesVerifyResult> {
  const state = await stream.state();
  return verifyNodeChains(await readStream(stream), state, trusted);
}

describe("the NATS audit log", { skip }, () => {
  const server = suiteNatsServer();

  test("two nodes on one stream: each chain and its checkpoints verify; records merge by time", async (t) => {
    const { stream } = await twoNodes(t, server.url);
    const result = await verify(stream);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(
      result.nodes.map((n) => [n.node, n.records, n.checkpoints, n.unsigned]),
      [
        ["node-a", 5, 2, 0],
        ["node-b", 5, 2, 0],
      ],
    );
    const records = nodeRecords(await readStream(stream));
    assert.equal(records.length, 10);
    assert.deepEqual(new Set(records.map((r) => r.node)), new Set(["node-a", "node-b"]));
    assert.ok(records.every((r, i) => i === 0 || (records[i - 1]?.at ?? 0) <= r.at));
  });

  test("the stream refuses deletes and purges, and refuses to have them allowed again", async (t) => {
    const { nc, stream } = await twoNodes(t, server.url, 1);
    const jsm = await jetstreamManager(nc);
    await assert.rejects(jsm.streams.deleteMessage(stream.name, 1), /not permitted/);
    await assert.rejects(jsm.streams.purge(stream.name), /not permitted/);
    const { config } = await jsm.streams.info(stream.name);
    await assert.rejects(jsm.streams.update(stream.name, { ...config, deny_delete: false }), /deny/);
    assert.ok((await verify(stream)).ok);
  });

  test("a record removed (stream recreated without it) is found, naming node and seq", async (t) => {
    const { nc, names, stream } = await twoNodes(t, server.url);
    await rewriteAuditStream(nc, stream, names.audit, (ms) => ms.filter((m) => !isRecord("node-b", 2)(m)));
    const result = await verify(stream);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.node, "node-b");
    assert.equal(result.firstBad, 2);
    assert.match(result.problem, /node node-b: record 2 is missing/);
  });

  test("a stream recreated without deny_delete (to cut records off its end) is found", async (t) => {
    const { nc, stream } = await twoNodes(t, server.url);
    const jsm = await jetstreamManager(nc);
    const { config } = await jsm.streams.info(stream.name);
    await jsm.streams.delete(stream.name);
    await jsm.streams.add({ ...config, deny_delete: false, deny_purge: false });
    const result = await verify(stream);
    assert.ok(!result.ok);
    assert.match(result.problem, /allows deletes or purges/);
  });

  test("a record changed: its hash no longer matches, or (recomputed) the next record's link does not", async (t) => {
    for (const recompute of [false, true]) {
      const { nc, names, stream } = await twoNodes(t, server.url);
      await rewriteAuditStream(nc, stream, names.audit, (ms) => {
        const original = ms.find(isRecord("node-a", 2))?.message;
        assert.ok(original?.type === "record");
        const body = JSON.stringify({ outcome: "allowed" });
        const hash = recompute
          ? hashRecord(original.seq, original.at, original.kind, body, original.prevHash)
          : original.hash;
        // Deleted where it was; the forgery, same seq, published at the end.
        return [
          ...ms.filter((m) => !isRecord("node-a", 2)(m)),
          { node: "node-a", message: { ...original, body, hash } },
        ];
      });
      const result = await verify(stream);
      assert.ok(!result.ok, `recompute=${recompute}`);
      assert.equal(result.node, "node-a");
      assert.equal(result.firstBad, 2);
      assert.match(
        result.problem,
        recompute ? /record 3 does not follow record 2/ : /record 2 was changed/,
        `recompute=${recompute}`,
      );
    }
  });

  test("a whole chain rewritten with hashes recomputed: its signed checkpoint no longer matches", async (t) => {
    const { nc, names, stream } = await twoNodes(t, server.url);
    await rewriteAuditStream(nc, stream, names.audit, (ms) => {
      let prev = "";
      return ms.map((m) => {
        if (m.node !== "node-a" || m.message.type !== "record") return m;
        const r = m.message;
        const prevHash = r.seq === 1 ? r.prevHash : prev;
        const body = r.seq === 2 ? JSON.stringify({ outcome: "allowed" }) : r.body;
        prev = hashRecord(r.seq, r.at, r.kind, body, prevHash);
        return { node: m.node, message: { ...r, body, prevHash, hash: prev } };
      });
    });
    const result = await verify(stream);
    assert.ok(!result.ok);
    assert.equal(result.node, "node-a");
    assert.match(result.problem, /no longer has the hash its signed checkpoint vouches for/);
  });

  test("a checkpoint signed by another key is refused", async (t) => {
    const { stream } = await twoNodes(t, server.url, 1);
    const other = keyPair();
    const log = openNodeAuditLog(stream, { node: "node-x", signingKeyPem: other.privateKeyPem });
    log.record({ kind: "secret.set", subject: "K", outcome: "allowed" });
    await log.close();
    const result = await verify(stream);
    assert.ok(!result.ok);
    assert.equal(result.node, "node-x");
    assert.match(
      result.problem,
      /node node-x: the checkpoint at record 1 is signed by key .* not a trusted key/,
    );
    assert.ok((await verify(stream, [KEY.publicKeyPem, other.publicKeyPem])).ok);
  });

  test("a node's chain, or its tail with its checkpoints, left out of a stream made anew is found against an anchor", async (t) => {
    for (const cut of ["whole chain", "tail"] as const) {
      const { nc, names, stream } = await twoNodes(t, server.url);
      const before = await verify(stream);
      const heads = before.nodes.flatMap((n) => (n.head === undefined ? [] : [n.head]));
      assert.deepEqual(
        heads.map((h) => [h.node, h.seq]),
        [
          ["node-a", 5],
          ["node-b", 5],
        ],
      );
      const text = formatNatsAnchor(stream.name, heads);
      const anchors = parseNatsAnchor(text, "anchor.json").map((anchor) => ({
        anchor,
        source: "anchor.json",
      }));
      const withAnchors = async () =>
        verifyNodeChains(
          await readStream(stream),
          await stream.state(),
          [KEY.publicKeyPem],
          undefined,
          anchors,
        );
      assert.ok((await withAnchors()).ok);
      // Deny flags and all; node B loses everything, or records 4 and 5 with the checkpoint over 5.
      await rewriteAuditStream(nc, stream, names.audit, (ms) =>
        ms.filter((m) => m.node !== "node-b" || (cut === "tail" && m.message.seq <= 3)),
      );
      assert.ok((await verify(stream)).ok, `${cut}: not found without an anchor`);
      const result = await withAnchors();
      assert.ok(!result.ok);
      assert.equal(result.node, "node-b");
      assert.equal(result.firstBad, cut === "tail" ? 4 : 1);
      assert.match(
        result.problem,
        cut === "tail" ? /ends at record 3.* vouches for record 5/ : /whole chain is gone/,
      );
    }
  });

  test("an anchor whose signature does not verify is refused, and a file that is none is a clear error", async (t) => {
    const { stream } = await twoNodes(t, server.url, 1);
    const [head] = (await verify(stream)).nodes.flatMap((n) => (n.head === undefined ? [] : [n.head]));
    assert.ok(head);
    const forged = [{ anchor: { ...head, seq: head.seq + 1 }, source: "anchor.json" }];
    const result = verifyNodeChains(
      await readStream(stream),
      await stream.state(),
      [KEY.publicKeyPem],
      undefined,
      forged,
    );
    assert.ok(!result.ok);
    assert.match(result.problem, /anchor.json: the anchor at record 2 is forged/);
    assert.throws(() => parseNatsAnchor('{"format":"palisade.audit.anchor.v1"}', "a.json"), {
      code: "PAL_AUDIT_BAD_ANCHOR",
      message: /"a.json".*audit anchor --nats/,
    });
  });
});

test("records accepted while NATS is away are published once it is back, none lost", { skip }, async (t) => {
  const server = await startNatsServer();
  t.after(() => server.stop());
  const nc = await connected(t, server.url);
  const stream = await openAuditStream(nc, natsNames("outage"), 1);
  const log = openNodeAuditLog(stream, { node: "node-o", signingKeyPem: KEY.privateKeyPem });
  log.record({ kind: "app.started" });
  await log.flush();
  await server.kill();
  for (let i = 0; i < 3; i++) log.record({ kind: "ingress.rejected", outcome: "denied", details: { i } });
  await assert.rejects(log.flush(), { code: "PAL_AUDIT_WRITE_FAILED" });
  await server.restart();
  // The background retry (every second) publishes them once the connection is back.
  for (const deadline = Date.now() + 60_000; log.stats.records < 4; ) {
    assert.ok(Date.now() < deadline, "the queued records were never published");
    await new Promise((r) => setTimeout(r, 100));
  }
  await log.close();
  const result = await verify(stream);
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(
    result.nodes.map((n) => [n.records, n.unsigned]),
    [[4, 0]],
  );
});
