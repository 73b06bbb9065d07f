import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { natsUnavailable, suiteNatsServer } from "../../test/kit/nats-server.ts";
import {
  type KeyBuckets,
  localMasterKey,
  openKeyBuckets,
  openNatsKeyRing,
  openNatsSecretStore,
} from "./index.ts";

const skip = natsUnavailable();
let apps = 0;

/** A node of app `app`: its connection, the buckets, the shared key ring, and a data dir of its own. */
async function node(t: TestContext, url: string, app: string, masterKey: Buffer) {
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  const buckets = await openKeyBuckets(
    nc,
    { keys: `${app}_keys`, leases: `${app}_leases`, secrets: `${app}_secrets` },
    1,
  );
  const d = mkdtempSync(join(tmpdir(), "palisade-node-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  process.env.PALISADE_MASTER_KEY = masterKey.toString("base64");
  const ring = await openNatsKeyRing(buckets, localMasterKey(join(d, "master.key"), { create: false }));
  delete process.env.PALISADE_MASTER_KEY;
  t.after(() => ring.close());
  return { buckets, ring, markFile: join(d, "secrets.nats-generation") };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const doc = async (b: KeyBuckets) => {
  const e = await b.secrets.get("store");
  assert.ok(e);
  return { text: e.string(), json: e.json<{ secrets: Record<string, { value: string }> }>() };
};

describe("the secret store shared through NATS", { skip }, () => {
  const server = suiteNatsServer();

  test("a secret set on one node is read on another, rotated with a grace period, removed; never in clear", async (t) => {
    const app = `ss${++apps}`;
    const key = randomBytes(32);
    const a = await node(t, server.url, app, key);
    const b = await node(t, server.url, app, key);
    const sa = await openNatsSecretStore(a.buckets, a.ring);
    const sb = await openNatsSecretStore(b.buckets, b.ring);
    t.after(() => Promise.all([sa.close(), sb.close()]));
    await sa.set("API_KEY", "first-value");
    await until(() => sb.get("API_KEY") === "first-value", "node b reads the value");
    await sb.rotate("API_KEY", "second-value", 60);
    await until(() => sa.values("API_KEY").length === 2, "node a sees the rotation");
    assert.deepEqual(sa.values("API_KEY"), ["second-value", "first-value"]);
    assert.match(sa.list()[0]?.previousUntil ?? "", /^\d{4}-/);
    assert.doesNotMatch((await doc(a.buckets)).text, /first-value|second-value/);
    await assert.rejects(sa.set("bad name", "x"), { code: "PAL_SECURITY_SECRET_NAME" });
    await assert.rejects(sa.rotate("MISSING", "x", 1), { code: "PAL_SECURITY_SECRET_MISSING" });
    assert.equal(await sb.remove("API_KEY"), true);
    await until(() => sa.get("API_KEY") === undefined, "node a sees the removal");
    assert.equal(await sa.remove("API_KEY"), false);
  });

  test("a value moved to another name does not open", async (t) => {
    const app = `ss${++apps}`;
    const a = await node(t, server.url, app, randomBytes(32));
    const store = await openNatsSecretStore(a.buckets, a.ring);
    t.after(() => store.close());
    await store.set("API_KEY", "the-api-key");
    await store.set("OTHER", "other");
    const { json } = await doc(a.buckets);
    const moved = { ...json, secrets: { ...json.secrets, OTHER: json.secrets.API_KEY } };
    await a.buckets.secrets.put("store", JSON.stringify(moved));
    await until(() => {
      try {
        store.get("OTHER");
        return false;
      } catch (err) {
        return (err as { code?: string }).code === "PAL_SECURITY_SEAL_BROKEN";
      }
    }, "the moved value refused");
    assert.equal(store.get("API_KEY"), "the-api-key", "the value under its own name still opens");
    const fresh = await openNatsSecretStore(a.buckets, a.ring);
    t.after(() => fresh.close());
    assert.throws(() => fresh.get("OTHER"), { code: "PAL_SECURITY_SEAL_BROKEN" });
  });

  test("an older revision put back: ignored by a running node, refused by one starting, even with the history purged", async (t) => {
    const app = `ss${++apps}`;
    const key = randomBytes(32);
    const a = await node(t, server.url, app, key);
    const rollbacks: [number, number][] = [];
    const store = await openNatsSecretStore(a.buckets, a.ring, {
      markFile: a.markFile,
      onRollback: (found, expected) => rollbacks.push([found, expected]),
    });
    t.after(() => store.close());
    await store.set("API_KEY", "old-key");
    const older = (await doc(a.buckets)).text;
    await store.rotate("API_KEY", "new-key", 0); // the old key is revoked
    assert.equal(store.generation(), 2);

    await a.buckets.secrets.put("store", older);
    await until(() => store.values("API_KEY").length > 0 && rollbacks.length > 0, "the rollback reported");
    assert.deepEqual(store.values("API_KEY"), ["new-key"], "the revoked key does not come back");
    assert.deepEqual(rollbacks, [[1, 2]]);
    await assert.rejects(store.set("OTHER", "x"), { code: "PAL_SECURITY_ROLLBACK" });
    // A node starting now finds the newer generation in the bucket's history.
    const b = await node(t, server.url, app, key);
    await assert.rejects(openNatsSecretStore(b.buckets, b.ring), {
      code: "PAL_SECURITY_ROLLBACK",
      message: /generation 1, but generation 2 was already written/,
    });
    // With the history purged, a node that saw generation 2 still refuses it (its own mark).
    await a.buckets.secrets.purge("store");
    await a.buckets.secrets.put("store", older);
    await assert.rejects(openNatsSecretStore(a.buckets, a.ring, { markFile: a.markFile }), {
      code: "PAL_SECURITY_ROLLBACK",
    });
  });
});
