/**
 * The admin API of a platform on NATS JetStream: the same routes read the deployment's stream,
 * its audit stream (every node's chain) and its traces.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ADMIN_KEY, adminCall } from "./kit/admin.ts";
import { post } from "./kit/http.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { logged, scaleOutApp, setNatsSecret, startRole, until } from "./kit/scale-out.ts";

test("on NATS the admin API lists events, verifies every node's audit chain and shows functions", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0);
  setNatsSecret(dir, nats.url, "PALISADE_ADMIN_KEY", ADMIN_KEY);
  const node = await startRole(t, "start", dir, nats.url, ["--accept-lazy-fsync"]);
  const id = (await post(`${node.url}/events`, { type: "job.queued", data: { n: 1 } })).body.ids[0] as string;
  await until(() => logged([node], "counted").length === 1, "the chain");

  const events = await adminCall(node.url, "GET", "/events?type=job.*");
  assert.equal(events.status, 200, JSON.stringify(events.body));
  assert.deepEqual(
    events.body.events.map((e: { type: string }) => e.type),
    ["job.done", "job.queued"],
    "newest first, from the deployment's stream",
  );
  const one = await adminCall(node.url, "GET", `/events/${id}`);
  assert.equal(one.body.copies[0].event.data.n, 1);
  const verdict = await adminCall(node.url, "POST", "/audit/verify");
  assert.equal(verdict.status, 200);
  assert.equal(verdict.body.backend, "nats");
  assert.equal(verdict.body.ok, true, JSON.stringify(verdict.body));
  assert.ok(verdict.body.nodes.length >= 1);
  const fns = await adminCall(node.url, "GET", "/functions");
  assert.deepEqual(
    fns.body.map((f: { name: string; bundle: { sha256: string } | null }) => [
      f.name,
      f.bundle?.sha256.length,
    ]),
    [
      ["work", 64],
      ["count", 64],
    ],
  );
  assert.equal((await adminCall(node.url, "GET", "/functions", { key: null })).status, 401);
});
