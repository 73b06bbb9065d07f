/**
 * Scale-out on NATS JetStream with real processes: `palisade gateway` and `palisade worker` against
 * a real nats-server of the test's own (loopback, own store dir). What each test tries to break is
 * in its name. Single-server tests run on R1 and say so with --accept-lazy-fsync.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { BIN } from "./kit/cli-process.ts";
import { post } from "./kit/http.ts";
import { freePort, natsSkip, startNatsCluster, startNatsServer } from "./kit/nats-server.ts";
import { logged, scaleOutApp, startRole, until } from "./kit/scale-out.ts";

const LAZY = ["--accept-lazy-fsync"];
const single = natsSkip();

const distinct = (values: unknown[]) => new Set(values).size;

test("2 gateways accept for one app and 2 workers share the load of one function", {
  skip: single,
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 50);
  const gateways = [
    await startRole(t, "gateway", dir, nats.url, LAZY),
    await startRole(t, "gateway", dir, nats.url, LAZY),
  ];
  const workers = [
    await startRole(t, "worker", dir, nats.url, LAZY),
    await startRole(t, "worker", dir, nats.url, LAZY),
  ];
  // Every role printed what the deployment guarantees, and the workers serve the ops routes.
  for (const p of [...gateways, ...workers])
    assert.match(String(p.lines.find((l) => l.msg === "palisade is running")?.durability), /R1/);
  for (const w of workers) {
    assert.equal((await fetch(`${w.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${w.url}/readyz`)).status, 200);
    assert.match(await (await fetch(`${w.url}/metrics`)).text(), /palisade_/);
  }

  const n = 40;
  for (let i = 0; i < n; i++) {
    const res = await post(`${gateways[i % 2]?.url}/events`, { type: "job.queued", data: { n: i } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
  await until(() => distinct(logged(workers, "handled")) === n, `${n} events handled`);
  await until(() => distinct(logged(workers, "counted")) === n, `${n} emits counted`);
  // Shared, not duplicated: each event ran once, and both workers took part.
  assert.equal(logged(workers, "handled").length, n);
  for (const w of workers) assert.ok(logged([w], "handled").length > 0, "each worker handled some events");
});

test("kill -9 of a worker mid-invocation: its deliveries run on the other worker, emits happen once", {
  skip: single,
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 1500);
  const gateway = await startRole(t, "gateway", dir, nats.url, LAZY);
  const doomed = await startRole(t, "worker", dir, nats.url, LAZY);
  const n = 4;
  for (let i = 0; i < n; i++)
    assert.equal((await post(`${gateway.url}/events`, { type: "job.queued", data: { n: i } })).status, 202);
  // The doomed worker has started (and emitted) but not finished its first event.
  await until(() => logged([doomed], "started").length > 0, "the first worker to start an event");
  doomed.child.kill("SIGKILL");
  assert.equal(logged([doomed], "handled").length, 0);
  const survivor = await startRole(t, "worker", dir, nats.url, LAZY);
  await until(() => distinct(logged([survivor], "handled")) === n, `all ${n} events handled`, 60_000);
  // An emit made before the kill may have been counted by the doomed worker already.
  await until(() => distinct(logged([survivor, doomed], "counted")) === n, `${n} emits counted`);
  // Give a duplicate emit time to show up, then check each emit was stored once: one job.done event
  // id per n. The same id counted twice is not a second emit but count's own delivery run again
  // after the kill (at least once), and only the doomed worker can have run it first.
  await new Promise((r) => setTimeout(r, 1000));
  const ids = (p: typeof survivor) =>
    p.lines.filter((l) => l.msg === "counted").map((l) => `${String(l.n)} ${String(l.eventId)}`);
  const all = [...ids(survivor), ...ids(doomed)];
  assert.equal(new Set(all).size, n, `one emitted event per n: ${JSON.stringify(all)}`);
  assert.equal(new Set(ids(survivor)).size, ids(survivor).length, "the survivor counted each once");
  assert.equal(new Set(ids(doomed)).size, ids(doomed).length, "the doomed worker counted each once");
});

test("NATS unreachable at start: a clear error naming the URL without its password, exit 1", {
  skip: single,
}, async (t) => {
  const dir = scaleOutApp(t, 0);
  const port = await freePort();
  const url = `nats://alice:s3cretpass@127.0.0.1:${port}`;
  const child = spawn(process.execPath, [BIN, "worker", dir, "--nats", url, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  assert.equal(code, 1, out);
  assert.match(out, new RegExp(`Cannot reach NATS at nats://alice:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(out, /s3cretpass/);
});

test("NATS lost while running: ingress answers 503 with Retry-After, nothing accepted is lost, work resumes", {
  skip: single,
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0);
  const gateway = await startRole(t, "gateway", dir, nats.url, LAZY);
  const worker = await startRole(t, "worker", dir, nats.url, LAZY);
  assert.equal((await post(`${gateway.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);
  await until(() => logged([worker], "handled").includes(1), "the first event handled");

  await nats.kill();
  const refused = await post(`${gateway.url}/events`, { type: "job.queued", data: { n: 2 } });
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  assert.equal((await fetch(`${gateway.url}/readyz`)).status, 503);

  await nats.restart();
  let accepted = false;
  const deadline = Date.now() + 30_000;
  while (!accepted && Date.now() < deadline) {
    const res = await post(`${gateway.url}/events`, { type: "job.queued", data: { n: 3 } });
    accepted = res.status === 202;
    if (!accepted) await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(accepted, "the gateway accepts again after NATS is back");
  await until(() => logged([worker], "handled").includes(3), "work resumes after NATS is back");
  // The refused event was never acknowledged, so it is not delivered; the accepted ones are, once.
  assert.deepEqual(logged([worker], "handled").sort(), [1, 3]);
});

test("kill -9 of one node of a 3-node R3 cluster mid-stream: 0 acknowledged events lost, work resumes", {
  skip: natsSkip([2, 10]),
}, async (t) => {
  const cluster = await startNatsCluster(3);
  t.after(() => cluster.stop());
  const seeds = cluster.urls;
  const dir = scaleOutApp(t, 0, 4);
  const gateway = await startRole(t, "gateway", dir, seeds);
  const worker = await startRole(t, "worker", dir, seeds);
  assert.match(String(gateway.lines.find((l) => l.msg === "palisade is running")?.durability), /R3/);
  const accepted = new Set<number>();
  let stopSending = false;
  const sender = (async () => {
    for (let i = 0; !stopSending; i++) {
      const res = await post(`${gateway.url}/events`, { type: "job.queued", data: { n: i } }).catch(
        () => undefined,
      );
      if (res?.status === 202) accepted.add(i);
      else await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await until(() => accepted.size >= 50, "50 accepted events");
  await cluster.kill(0);
  await until(() => accepted.size >= 150, "events accepted after the node died", 60_000);
  stopSending = true;
  await sender;
  const missing = () => [...accepted].filter((i) => !logged([worker], "handled").includes(i));
  await until(() => missing().length === 0, "every acknowledged event handled", 60_000).catch((err) => {
    const warnings = worker.lines.filter((l) => Number(l.level) >= 40).slice(-5);
    throw new Error(
      `${err}: missing ${JSON.stringify(missing())} of ${accepted.size}; worker warnings ${JSON.stringify(warnings)}`,
    );
  });
});
