/**
 * NATS mode (issue 13), on a nats-server of the bench's own (loopback, own store dir):
 * 1. End to end (HTTP batches → gateway → JetStream → worker → sandboxed no-op → ack), every control
 *    on, next to raw JetStream (nats.js publish + consume/ack of the same number of messages of the
 *    same size) measured in the same run.
 * 2. The same with the gateway and the worker as separate processes (`palisade gateway`, `palisade
 *    worker`: the scale-out shape, each with its own core to use), counted by the worker's metrics.
 * 3. Scaling: a gateway process, then 1 and 2 worker processes, on a handler that waits 5 ms.
 * Each figure is printed with the durability it was measured under (R1 on one server, lazy fsync).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Platform, startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { BIN, type DevProcess, startDev, stop } from "../test/kit/cli-process.ts";
import { startNatsServer } from "../test/kit/nats-server.ts";
import { type CpuPerEvent, cpuAccount } from "./cpu-account.ts";
import { BATCH_TYPE, batchBodies } from "./ingest.ts";
import { runRawJetStream } from "./jetstream-raw.ts";
import { BENCH_KEY, drive } from "./load.ts";
import { sleep } from "./stats.ts";

export interface NatsBenchConfig {
  batches: number;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
}

export interface NatsBenchRun {
  durability: string;
  rawPublishPerSec: number;
  rawE2ePerSec: number;
  e2ePerSec: number;
  acceptedPerSec: number;
  /** End to end with a gateway process and a worker process. */
  processesPerSec: number;
  /** CPU per message of the raw peer: the client (this process) and nats-server. */
  rawCpuPerMsg: CpuPerEvent | undefined;
  /** CPU per event end to end: the platform (this process), nats-server, the sandboxes. */
  cpuPerEvent: CpuPerEvent | undefined;
  oneWorkerPerSec: number;
  twoWorkersPerSec: number;
  scalingEvents: number;
  timedOut: boolean;
}

const quiet = createLogger({ level: "silent" });

/**
 * Runs both NATS measures with `appDir` (the bench app); `newApp()` makes a fresh copy of it for each
 * scaling run (the handler is made to wait 5 ms there, and the app renamed: its own stream).
 */
export async function runNatsBench(
  appDir: string,
  newApp: () => string,
  cfg: NatsBenchConfig,
): Promise<NatsBenchRun> {
  const server = await startNatsServer();
  try {
    const nats = { nats: server.url, acceptLazyFsync: true };
    const warm = 4;
    const bodies = batchBodies(warm + cfg.batches, cfg.batchSize, "bench.ping");
    const at = (offset: number) => (i: number) => bodies[offset + i] ?? "";
    const opts = { contentType: BATCH_TYPE };
    // The raw peer carries messages as large as one sealed event.
    const payload = new Uint8Array(400);
    const rawCpu = cpuAccount(server.process.pid);
    const raw = await runRawJetStream(server.url, cfg.batches, cfg.batchSize, payload);
    const rawCpuPerMsg = rawCpu.perEvent(raw.messages);

    setBenchKey(appDir, server.url);
    const platform = await startPlatform({ appDir, logger: quiet, port: 0, host: "127.0.0.1", nats });
    let e2ePerSec = 0;
    let acceptedPerSec = 0;
    let timedOut = false;
    let cpu: CpuPerEvent | undefined;
    const durability = platform.store.durability.summary;
    try {
      await drive(platform.url, warm, cfg.concurrency, at(0), opts);
      await drain([platform], cfg.timeoutMs);
      const account = cpuAccount(server.process.pid);
      const start = performance.now();
      const load = await drive(platform.url, cfg.batches, cfg.concurrency, at(warm), opts);
      acceptedPerSec = ((load.accepted * cfg.batchSize) / load.ms) * 1000;
      timedOut = !(await drain([platform], cfg.timeoutMs));
      e2ePerSec = ((load.accepted * cfg.batchSize) / (performance.now() - start)) * 1000;
      cpu = account.perEvent(load.accepted * cfg.batchSize);
    } finally {
      await platform.close();
    }

    const processesPerSec = await processesRun(renamed(newApp(), "procs"), server.url, cfg, bodies);
    const scalingEvents = 4000;
    const one = await slowRun(slowApp(newApp(), "slow1"), server.url, 1, scalingEvents, cfg.timeoutMs);
    const two = await slowRun(slowApp(newApp(), "slow2"), server.url, 2, scalingEvents, cfg.timeoutMs);
    return {
      durability,
      rawPublishPerSec: raw.publishPerSec,
      rawE2ePerSec: raw.e2ePerSec,
      e2ePerSec,
      acceptedPerSec,
      processesPerSec,
      rawCpuPerMsg,
      cpuPerEvent: cpu,
      oneWorkerPerSec: one,
      twoWorkersPerSec: two,
      scalingEvents,
      timedOut: timedOut || processesPerSec === 0 || one === 0 || two === 0,
    };
  } finally {
    await server.stop();
  }
}

/**
 * Events per second through a `palisade gateway` process and `workers` `palisade worker` processes
 * (the scale-out shape: each worker has its own event loop), after a warm-up that starts every
 * worker's sandboxes; 0 on timeout.
 */
async function slowRun(
  appDir: string,
  url: string,
  workers: number,
  events: number,
  timeoutMs: number,
): Promise<number> {
  return withRoles(appDir, url, workers, async (gateway, started) => {
    const size = 100;
    const opts = { contentType: BATCH_TYPE };
    const warm = batchBodies(4 * workers, size, "bench.ping");
    await drive(gateway.url, warm.length, 4, (i) => warm[i] ?? "", opts);
    if (!(await delivered(started, warm.length * size, timeoutMs))) return 0;
    const bodies = batchBodies(events / size, size, "bench.ping");
    const start = performance.now();
    await drive(gateway.url, bodies.length, 4, (i) => bodies[i] ?? "", opts);
    if (!(await delivered(started, (warm.length + bodies.length) * size, timeoutMs))) return 0;
    return (events / (performance.now() - start)) * 1000;
  });
}

/**
 * Events per second through a `palisade gateway` process and a `palisade worker` process (built
 * and signed bundles, as in production), counted from the worker's `/metrics`; 0 on timeout.
 */
async function processesRun(
  appDir: string,
  url: string,
  cfg: NatsBenchConfig,
  bodies: readonly string[],
): Promise<number> {
  return withRoles(appDir, url, 1, async (gateway, workers) => {
    const opts = { contentType: BATCH_TYPE };
    const warm = 4;
    const at = (offset: number) => (i: number) => bodies[offset + i] ?? "";
    await drive(gateway.url, warm, cfg.concurrency, at(0), opts);
    if (!(await delivered(workers, warm * cfg.batchSize, cfg.timeoutMs))) return 0;
    const start = performance.now();
    const load = await drive(gateway.url, cfg.batches, cfg.concurrency, at(warm), opts);
    const total = (warm + load.accepted) * cfg.batchSize;
    if (!(await delivered(workers, total, cfg.timeoutMs))) return 0;
    return ((load.accepted * cfg.batchSize) / (performance.now() - start)) * 1000;
  });
}

/** Builds `appDir`, starts a gateway and `workers` worker processes on `url`, runs `fn`, stops them. */
async function withRoles<T>(
  appDir: string,
  url: string,
  workers: number,
  fn: (gateway: DevProcess, workers: DevProcess[]) => Promise<T>,
): Promise<T> {
  const built = spawnSync(process.execPath, [BIN, "build", appDir], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`palisade build failed: ${built.stderr}`);
  setBenchKey(appDir, url);
  const flags = ["--nats", url, "--accept-lazy-fsync"];
  const started: DevProcess[] = [];
  try {
    const gateway = await startDev(appDir, "gateway", flags);
    started.push(gateway);
    const list: DevProcess[] = [];
    for (let i = 0; i < workers; i++) list.push(await startDev(appDir, "worker", flags));
    started.push(...list);
    return await fn(gateway, list);
  } finally {
    await Promise.all(started.map((p) => stop(p.child)));
  }
}

/** Waits until `workers` count `n` delivered attempts in all (their `/metrics`); false on timeout. */
async function delivered(workers: readonly DevProcess[], n: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let count = 0;
    for (const w of workers) {
      const text = await (await fetch(`${w.url}/metrics`)).text();
      for (const l of text.split("\n"))
        if (l.startsWith("palisade_deliveries_total{") && l.includes('outcome="delivered"'))
          count += Number(l.split(" ").at(-1));
    }
    if (count >= n) return true;
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
}

/** The app at `appDir` renamed `name`: its own stream and consumers. */
function renamed(appDir: string, name: string): string {
  const manifest = join(appDir, "palisade.yaml");
  writeFileSync(manifest, readFileSync(manifest, "utf8").replace(/^name: .*$/m, `name: ${name}`));
  return appDir;
}

/** Waits until no delivery is pending (or taken) in any consumer; false on timeout. */
async function drain(platforms: readonly Platform[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const store = platforms[0]?.store;
  if (store === undefined) return true;
  for (;;) {
    const { pending } = await store.maintenance.stateCounts();
    if (pending === 0) return true;
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
}

/**
 * Invocations one worker runs at once in the scaling measure (BENCH_SLOW_CONCURRENCY). At 4, one
 * worker is bound by it (4 in flight × 5 ms), which is what adding a worker relieves; at 8 on a
 * 2-core machine, two workers with their 16 sandboxes, the gateway and nats-server use both cores
 * (vmstat: 6–16 % idle), and the ratio measures the machine (1.24–1.82× over runs), not the design.
 */
export const SLOW_CONCURRENCY = Number(process.env.BENCH_SLOW_CONCURRENCY ?? 4);

/**
 * The bench app renamed `name` (its own stream and consumers: nothing left over from another run),
 * its handler waiting 5 ms, with concurrency SLOW_CONCURRENCY.
 */
function slowApp(appDir: string, name: string): string {
  const manifest = join(renamed(appDir, name), "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace("concurrency: 2", `concurrency: ${SLOW_CONCURRENCY}`),
  );
  writeFileSync(
    join(appDir, "functions", "noop.ts"),
    "export default () => new Promise((r) => setTimeout(r, 5));\n",
  );
  return appDir;
}

/** On NATS the gateway reads its API keys from the deployment's secret store: BENCH_KEY goes there. */
function setBenchKey(appDir: string, url: string): void {
  const set = spawnSync(
    process.execPath,
    [BIN, "secrets", "set", "BENCH_KEY", "--app", appDir, "--nats", url],
    {
      encoding: "utf8",
      input: BENCH_KEY,
    },
  );
  if (set.status !== 0) throw new Error(`palisade secrets set --nats failed: ${set.stderr}`);
}
