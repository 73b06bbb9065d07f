/**
 * A real 3-node JetStream cluster (test/kit startNatsCluster): Palisade sees the cluster and picks R3,
 * and an R3 stream keeps every acknowledged publish when its leader is killed with SIGKILL mid-stream:
 * publishing resumes after the election (retried with the same message id) and the node rejoins.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  connectNats,
  NATS_REPLICAS_INVALID,
  type NatsFlags,
  type NatsLink,
  type NatsOptions,
  natsOptionsFrom,
  openNatsDeployment,
} from "../src/bus/index.ts";
import { type NatsCluster, natsSkip, startNatsCluster } from "./kit/nats-server.ts";

const skip = natsSkip([2, 10]);
const STREAM = "FAILOVER";

function options(flags: NatsFlags): NatsOptions {
  const o = natsOptionsFrom(flags, {});
  assert.ok(o !== undefined);
  return o;
}
const TOTAL = 300;
const KILL_AFTER = 100;

describe("a 3-node NATS cluster", { skip }, () => {
  let cluster: NatsCluster;
  let link: NatsLink;
  before(async () => {
    cluster = await startNatsCluster(3, { monitor: true });
    link = await connectNats(options({ nats: cluster.urls }));
  });
  after(async () => {
    await link?.close();
    await cluster?.stop();
  });

  test("forms, and Palisade sees the cluster: R3 by default, safe, more than 3 refused", async () => {
    assert.equal(link.cluster, cluster.name);
    assert.equal(link.clusterSize, 3);
    const monitor = cluster.servers.map((s) => s.monitorUrl).join(",");
    const dep = await openNatsDeployment(options({ nats: cluster.urls, natsMonitor: monitor }), {
      mode: "start",
    });
    assert.equal(dep.replicas, 3);
    assert.equal(dep.durability.safe, true);
    assert.match(dep.statement, new RegExp(`cluster "${cluster.name}", 3 servers\\): R3`));
    await dep.link.close();
    await assert.rejects(
      openNatsDeployment(options({ nats: cluster.urls, natsMonitor: monitor, replicas: 5 }), {
        mode: "start",
      }),
      (err: Error & { code?: string }) =>
        err.code === NATS_REPLICAS_INVALID && /of 3 servers/.test(err.message),
    );
  });

  test("kill -9 of the stream leader mid-stream loses no acknowledged publish, and the node rejoins", async (t) => {
    const jsm = await jetstreamManager(link.nc);
    await jsm.streams.add({ name: STREAM, subjects: ["failover.>"], num_replicas: 3 });
    const js = jetstream(link.nc, { timeout: 2_000 });
    const acked = new Map<string, number>();
    let retries = 0;
    let killed: number | undefined;

    const publish = async (id: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          // The same message id on every try: the stream stores it once even if an earlier try landed.
          const ack = await js.publish(`failover.${id}`, id, { msgID: id, expect: { streamName: STREAM } });
          acked.set(id, ack.seq);
          return;
        } catch (err) {
          // "no responders", timeouts and 503s while the stream elects a new leader
          if (Date.now() > deadline) throw err;
          retries++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const killLeader = async () => {
      const leader = (await jsm.streams.info(STREAM)).cluster?.leader;
      const index = cluster.serverNames.indexOf(leader ?? "");
      assert.ok(index >= 0, `stream leader "${leader}" is one of ${cluster.serverNames.join(",")}`);
      killed = index;
      await cluster.kill(index);
    };

    // Four publishers in flight at once, so the kill lands while publishes are outstanding.
    let next = 0;
    let killing: Promise<void> | undefined;
    const publisher = async () => {
      while (next < TOTAL) {
        const i = next++;
        if (i === KILL_AFTER) killing = killLeader();
        await publish(`m${String(i).padStart(4, "0")}`);
      }
    };
    await Promise.all([publisher(), publisher(), publisher(), publisher()]);
    await killing;
    assert.equal(acked.size, TOTAL);
    assert.ok(killed !== undefined);

    // Every acknowledged message is in the stream, read back from the surviving servers.
    const stored = new Set<string>();
    const info = await jsm.streams.info(STREAM);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(STREAM, { seq });
      if (m !== null) stored.add(m.string());
    }
    const lost = [...acked.keys()].filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `acknowledged but lost after the failover (${retries} retries)`);
    assert.ok(info.cluster?.leader !== cluster.serverNames[killed], "a new leader was elected");

    // The killed node comes back on its store and catches up.
    await cluster.restart(killed);
    const name = cluster.serverNames[killed];
    const deadline = Date.now() + 30_000;
    let replica: { current?: boolean; offline?: boolean; lag?: number } | undefined;
    while (Date.now() < deadline) {
      const now = await jsm.streams.info(STREAM);
      replica =
        now.cluster?.leader === name
          ? { current: true, lag: 0 }
          : now.cluster?.replicas?.find((r) => r.name === name);
      if (replica?.current === true && replica.offline !== true && (replica.lag ?? 0) === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(replica?.current, true, `node ${name} rejoined the stream: ${JSON.stringify(replica)}`);
    const final = await jsm.streams.info(STREAM);
    assert.ok(final.state.messages >= TOTAL);
    t.diagnostic(`${retries} publishes retried while the stream elected a leader in place of ${name}`);
  });
});
