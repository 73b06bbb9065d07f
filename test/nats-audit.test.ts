/**
 * The audit log of a NATS deployment, end to end with real processes: a gateway and a worker
 * started with --nats each append their own chain to the app's audit stream, and `palisade audit
 * verify|tail|export --nats` read every node's. A record then removed by an attacker with stream
 * admin rights (the stream recreated without it) fails verify, naming the node and the record.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { openNodeAuditLog } from "../src/audit/index.ts";
import { natsNames, openAuditStream } from "../src/bus/index.ts";
import { isRecord, rewriteAuditStream } from "./kit/audit-stream.ts";
import { BIN, stop } from "./kit/cli-process.ts";
import { post } from "./kit/http.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { logged, scaleOutApp, startRole, until } from "./kit/scale-out.ts";

const LAZY = ["--accept-lazy-fsync"];

function palisade(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
}

test("gateway and worker on NATS: audit verify covers both nodes; tail merges them; a removed record fails verify", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0);
  const gateway = await startRole(t, "gateway", dir, nats.url, LAZY);
  const worker = await startRole(t, "worker", dir, nats.url, LAZY);
  const nodeOf = (p: typeof gateway) =>
    String(p.lines.find((l) => l.msg === "audit records go to the NATS audit stream")?.auditNode);
  const [gatewayNode, workerNode] = [nodeOf(gateway), nodeOf(worker)];
  assert.notEqual(gatewayNode, workerNode);

  const rejected = await post(
    `${gateway.url}/events`,
    { type: "job.queued", data: { n: 1 } },
    undefined,
    null,
  );
  assert.equal(rejected.status, 401);
  assert.equal((await post(`${gateway.url}/events`, { type: "job.queued", data: { n: 2 } })).status, 202);
  await until(() => logged([worker], "counted").length === 1, "the event handled");

  const tail = () => palisade(["audit", "tail", "--nats", nats.url, "--app", dir, "--json", "-n", "100"]);
  let records: { node: string; kind: string }[] = [];
  await until(() => {
    const out = tail();
    records = out.stdout
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
    return records.some((r) => r.kind === "ingress.rejected");
  }, "the rejection in audit tail --nats");
  assert.ok(records.some((r) => r.node === gatewayNode && r.kind === "ingress.rejected"));
  assert.ok(records.some((r) => r.node === workerNode && r.kind === "app.started"));

  const verify = () => palisade(["audit", "verify", "--nats", nats.url, "--app", dir]);
  let ok = verify();
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /intact: 2 nodes/);
  assert.match(ok.stdout, new RegExp(`node ${gatewayNode}: 2 records`));
  assert.match(ok.stdout, new RegExp(`node ${workerNode}: 1 record`));

  const exported = palisade(["audit", "export", "--since", "1h", "--nats", nats.url, "--app", dir]);
  assert.equal(exported.status, 0, exported.stderr);
  assert.equal(exported.stdout.trim().split("\n").length, records.length);

  // A graceful stop signs each node's tail: every record is then covered by a checkpoint.
  await stop(gateway.child, "SIGTERM");
  await stop(worker.child, "SIGTERM");
  ok = verify();
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.doesNotMatch(ok.stdout, /covered by no checkpoint/);

  // Every node's signed head, kept outside the stream (audit anchor --nats), checks out.
  const anchor = palisade(["audit", "anchor", "--nats", nats.url, "--app", dir]);
  assert.equal(anchor.status, 0, anchor.stderr);
  const anchorFile = join(dir, "audit-anchor.json");
  writeFileSync(anchorFile, anchor.stdout);
  const heads = JSON.parse(anchor.stdout).nodes.map((n: { node: string }) => n.node);
  assert.deepEqual(new Set(heads), new Set([gatewayNode, workerNode]));
  const anchored = () =>
    palisade(["audit", "verify", "--nats", nats.url, "--app", dir, "--anchor", anchorFile]);
  assert.equal(anchored().status, 0, anchored().stdout);

  // The attacker makes the stream anew without the worker's chain: every chain left checks out,
  // but the anchor names what is gone.
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const names = natsNames("scale");
  const stream = await openAuditStream(nc, names, 1);
  await rewriteAuditStream(nc, stream, names.audit, (ms) => ms.filter((m) => m.node !== workerNode));
  assert.equal(verify().status, 0, "a whole chain left out is not found without an anchor");
  const gone = anchored();
  assert.equal(gone.status, 1, gone.stdout + gone.stderr);
  assert.match(gone.stdout, new RegExp(`NOT intact at node ${workerNode} record 1: .*whole chain is gone`));

  // The attacker removes the gateway's record of the rejection.
  await rewriteAuditStream(nc, stream, names.audit, (ms) => ms.filter((m) => !isRecord(gatewayNode, 2)(m)));
  const bad = verify();
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, new RegExp(`NOT intact at node ${gatewayNode} record 2`));
  const json = palisade(["audit", "verify", "--nats", nats.url, "--app", dir, "--json"]);
  assert.equal(json.status, 1);
  assert.equal(JSON.parse(json.stdout).node, gatewayNode);

  // tail -f --nats goes on printing what any node appends (here a third one, in this process).
  const follow = spawn(
    process.execPath,
    [BIN, "audit", "tail", "-f", "-n", "1", "--nats", nats.url, "--app", dir],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  t.after(() => stop(follow));
  let followed = "";
  follow.stdout.on("data", (d: Buffer) => {
    followed += d.toString();
  });
  await until(() => followed.includes("#"), "tail -f printed the newest record");
  const third = openNodeAuditLog(stream, {
    node: "third-node-1",
    signingKeyPem: readFileSync(join(dir, "keys/audit.key"), "utf8"),
  });
  third.record({ kind: "app.started" });
  await third.close();
  await until(() => followed.includes("third-node-1"), "tail -f printed the third node's record");
  assert.match(followed, /third-node-1.*app\.started/);
});
