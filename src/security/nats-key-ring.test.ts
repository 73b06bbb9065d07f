import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { natsUnavailable, suiteNatsServer } from "../../test/kit/nats-server.ts";
import { localMasterKey, type MasterKeyProvider, openKeyBuckets, openNatsKeyRing } from "./index.ts";

const skip = natsUnavailable();
let apps = 0;

/** A master key of the test's own (what each node holds; never in NATS). */
function masterKey(t: TestContext): { master: MasterKeyProvider; raw: Buffer } {
  const raw = randomBytes(32);
  const d = mkdtempSync(join(tmpdir(), "palisade-master-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const saved = process.env.PALISADE_MASTER_KEY;
  process.env.PALISADE_MASTER_KEY = raw.toString("base64");
  try {
    return { master: localMasterKey(join(d, "master.key"), { create: false }), raw };
  } finally {
    if (saved === undefined) delete process.env.PALISADE_MASTER_KEY;
    else process.env.PALISADE_MASTER_KEY = saved;
  }
}

/** One node: its own connection to the buckets of app `app`. */
async function node(t: TestContext, url: string, app: string) {
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  return openKeyBuckets(nc, { keys: `${app}_keys`, leases: `${app}_leases`, secrets: `${app}_secrets` }, 1);
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the key ring shared through NATS", { skip }, () => {
  const server = suiteNatsServer();

  test("two nodes share data keys; concurrent rotations add one version each; the bucket holds no key in clear", async (t) => {
    const app = `kr${++apps}`;
    const { master, raw } = masterKey(t);
    const a = await openNatsKeyRing(await node(t, server.url, app), master);
    const b = await openNatsKeyRing(await node(t, server.url, app), master);
    t.after(() => Promise.all([a.close(), b.close()]));
    assert.equal(a.activeVersion(), 1);
    assert.equal(b.activeVersion(), 1, "the second node uses the ring the first one created");
    assert.equal(b.open(a.seal("hello", "rec:1"), "rec:1"), "hello");
    assert.throws(() => b.open(a.seal("hello", "rec:1"), "rec:2"), { code: "PAL_SECURITY_SEAL_BROKEN" });

    const rotated = await Promise.all([a.rotate(), b.rotate(), a.rotate(), b.rotate()]);
    assert.deepEqual([...rotated].sort(), [2, 3, 4, 5], "each rotation added its own version");
    await until(() => a.activeVersion() === 5 && b.activeVersion() === 5, "both nodes at version 5");
    assert.deepEqual(
      b.versions().map((v) => v.version),
      [1, 2, 3, 4, 5],
    );
    const sealed = b.seal("after", "rec:3");
    assert.equal(b.versionOf(sealed), 5);
    assert.equal(a.open(sealed, "rec:3"), "after");

    // Every byte the bucket's stream holds: no master key, no data key, in any encoding.
    const buckets = await node(t, server.url, app);
    const ring = (await buckets.keys.get("ring"))?.json<{ keys: { version: number; wrapped: string }[] }>();
    const dataKeys = (ring?.keys ?? []).map((k) => master.unwrap(k.wrapped, k.version));
    assert.equal(dataKeys.length, 5);
    const bytes = await streamBytes(server.url, `KV_${app}_keys`);
    for (const secret of [raw, ...dataKeys])
      for (const form of [
        secret,
        Buffer.from(secret.toString("base64")),
        Buffer.from(secret.toString("base64url")),
        Buffer.from(secret.toString("hex")),
      ])
        assert.equal(bytes.indexOf(form), -1, "a key in clear in the bucket");
  });

  test("a node with another master key is refused; a node that missed a rotation re-reads before failing", async (t) => {
    const app = `kr${++apps}`;
    const { master } = masterKey(t);
    const a = await openNatsKeyRing(await node(t, server.url, app), master);
    t.after(() => a.close());
    await assert.rejects(openNatsKeyRing(await node(t, server.url, app), masterKey(t).master), {
      code: "PAL_SECURITY_KEYRING",
      message: /master key .* is not the one the ring was made with/,
    });

    const b = await openNatsKeyRing(await node(t, server.url, app), master);
    await b.close(); // its watch stops: it no longer hears of rotations
    const v = await a.rotate();
    const sealed = a.seal("new", "rec");
    assert.equal(b.knows(v), false);
    await b.refresh();
    assert.equal(b.knows(v), true);
    assert.equal(b.open(sealed, "rec"), "new");
  });

  test("retire refuses the active version and one a live node's lease names; a retired key no longer opens", async (t) => {
    const app = `kr${++apps}`;
    const { master } = masterKey(t);
    const a = await openNatsKeyRing(await node(t, server.url, app), master);
    const b = await openNatsKeyRing(await node(t, server.url, app), master);
    t.after(() => Promise.all([a.close(), b.close()]));
    // A node that has not renewed its lease since the rotation (it may still seal with version 1).
    const stale = a.holdLease(60_000);
    const old = a.seal("old", "rec");
    let holders = await b.sealingWith(1);
    for (let i = 0; holders.length === 0 && i < 100; i++) holders = await b.sealingWith(1);
    assert.match(holders[0] ?? "", /pid \d+/);
    await assert.rejects(b.retire(1), { code: "PAL_SECURITY_KEYRING", message: /active one/ });
    await b.rotate();
    await until(() => a.activeVersion() === 2, "node a at version 2");
    await assert.rejects(b.retire(1), { code: "PAL_SECURITY_KEY_IN_USE", message: /pid/ });
    await stale.close();
    // A node renewing: two renewals after the rotation its lease names only the active version.
    const lease = a.holdLease(50);
    await until(() => a.activeVersion() === 2, "node a at version 2");
    for (let i = 0; i < 200; i++) {
      holders = await b.sealingWith(1);
      if (holders.length === 0 && (await b.sealingWith(2)).length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(holders, []);
    await b.retire(1);
    await until(() => !a.knows(1), "node a forgot version 1");
    assert.throws(() => a.open(old, "rec"), {
      code: "PAL_SECURITY_SEAL_BROKEN",
      message: /retired or unknown/,
    });
    await lease.close();
    assert.deepEqual(await b.sealingWith(2), [], "a closed lease is gone");
  });

  test("an older copy of the ring put back is ignored: a retired key does not come back into use", async (t) => {
    const app = `kr${++apps}`;
    const { master } = masterKey(t);
    const errors: string[] = [];
    const a = await openNatsKeyRing(await node(t, server.url, app), master, {
      onError: (err) => errors.push(String(err)),
    });
    t.after(() => a.close());
    const buckets = await node(t, server.url, app);
    const older = (await buckets.keys.get("ring"))?.string() ?? "";
    await a.rotate();
    await a.retire(1);
    await buckets.keys.put("ring", older); // version 1 active and unretired again
    await until(() => errors.length > 0, "the older ring reported");
    assert.match(errors[0] ?? "", /went back to an older copy/);
    assert.equal(a.activeVersion(), 2);
    assert.equal(a.knows(1), false);
    assert.equal(a.versionOf(a.seal("x", "rec")), 2);
    await assert.rejects(a.refresh(), { code: "PAL_SECURITY_KEYRING" });
  });

  test("seals are counted in the bucket; at the seal limit the ring rotates once for every node", async (t) => {
    const app = `kr${++apps}`;
    const { master } = masterKey(t);
    const rotations: number[] = [];
    const a = await openNatsKeyRing(await node(t, server.url, app), master, {
      sealLimit: 3,
      onAutoRotate: (v) => rotations.push(v),
    });
    const b = await openNatsKeyRing(await node(t, server.url, app), master, { sealLimit: 3 });
    t.after(() => Promise.all([a.close(), b.close()]));
    for (let i = 0; i < 3; i++) a.seal("x", "rec");
    await a.flush();
    await until(() => b.versions()[0]?.seals === 3, "node b sees the 3 seals");
    a.seal("over the limit", "rec"); // still version 1: the rotation runs in the background
    await until(() => a.activeVersion() === 2 && b.activeVersion() === 2, "both nodes rotated");
    assert.deepEqual(rotations, [2]);
    assert.equal(b.versionOf(b.seal("y", "rec")), 2);
  });
});

/** Every message of `stream`, concatenated (subjects, headers and payloads). */
async function streamBytes(url: string, stream: string): Promise<Buffer> {
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const parts: Buffer[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
      if (m) parts.push(Buffer.from(m.subject), Buffer.from(m.data));
    }
    return Buffer.concat(parts);
  } finally {
    await nc.close();
  }
}
