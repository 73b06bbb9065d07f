/**
 * NATS mode (issue 13), on a nats-server of the bench's own (loopback, own store dir):
 * 1. End to end (HTTP batches → gateway → JetStream → worker → sandboxed no-op → ack), every control
 *    on, next to raw JetStream (nats.js publish + consume/ack of the same number of messages of the
 *    same size) measured in the same run.
 * 2. Scaling: one gateway, then 1 and 2 workers on a handler that waits 5 ms.
 * Each figure is printed with the durability it was measured under (R1 on one server, lazy fsync).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Platform, startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { startNatsServer } from "../test/kit/nats-server.ts";
import { BATCH_TYPE, batchBodies } from "./ingest.ts";
import { runRawJetStream } from "./jetstream-raw.ts";
import { drive } from "./load.ts";
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
    const raw = await runRawJetStream(server.url, cfg.batches, cfg.batchSize, payload);

    const platform = await startPlatform({ appDir, logger: quiet, port: 0, host: "127.0.0.1", nats });
    let e2ePerSec = 0;
    let acceptedPerSec = 0;
    let timedOut = false;
    const durability = platform.store.durability.summary;
    try {
      await drive(platform.url, warm, cfg.concurrency, at(0), opts);
      await drain([platform], cfg.timeoutMs);
      const start = performance.now();
      const load = await drive(platform.url, cfg.batches, cfg.concurrency, at(warm), opts);
      acceptedPerSec = ((load.accepted * cfg.batchSize) / load.ms) * 1000;
      timedOut = !(await drain([platform], cfg.timeoutMs));
      e2ePerSec = ((load.accepted * cfg.batchSize) / (performance.now() - start)) * 1000;
    } finally {
      await platform.close();
    }

    const scalingEvents = 4000;
    const one = await slowRun(slowApp(newApp(), "slow1"), server.url, 1, scalingEvents, cfg.timeoutMs);
    const two = await slowRun(slowApp(newApp(), "slow2"), server.url, 2, scalingEvents, cfg.timeoutMs);
    return {
      durability,
      rawPublishPerSec: raw.publishPerSec,
      rawE2ePerSec: raw.e2ePerSec,
      e2ePerSec,
      acceptedPerSec,
      oneWorkerPerSec: one,
      twoWorkersPerSec: two,
      scalingEvents,
      timedOut: timedOut || one === 0 || two === 0,
    };
  } finally {
    await server.stop();
  }
}

/** Events per second through one gateway and `workers` workers, each a process's worth of roles. */
async function slowRun(
  appDir: string,
  url: string,
  workers: number,
  events: number,
  timeoutMs: number,
): Promise<number> {
  const app = appDir;
  const nats = { nats: url, acceptLazyFsync: true };
  const base = { logger: quiet, port: 0, host: "127.0.0.1", nats };
  const gateway = await startPlatform({ ...base, appDir: app, role: "gateway" });
  const started: Platform[] = [];
  try {
    for (let i = 0; i < workers; i++)
      started.push(await startPlatform({ ...base, appDir: app, role: "worker" }));
    const size = 100;
    // Warm-up first, as for the end-to-end figure: each worker's sandboxes start on their first
    // deliveries (cold starts), which is not the steady rate being compared.
    const warm = batchBodies(4 * workers, size, "bench.ping");
    await drive(gateway.url, warm.length, 4, (i) => warm[i] ?? "", { contentType: BATCH_TYPE });
    if (!(await drain(started, timeoutMs))) return 0;
    const bodies = batchBodies(events / size, size, "bench.ping");
    const start = performance.now();
    await drive(gateway.url, bodies.length, 4, (i) => bodies[i] ?? "", { contentType: BATCH_TYPE });
    if (!(await drain(started, timeoutMs))) return 0;
    return (events / (performance.now() - start)) * 1000;
  } finally {
    await Promise.all(started.map((w) => w.close()));
    await gateway.close();
  }
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
 * The bench app renamed `name` (its own stream and consumers: nothing left over from another run),
 * its handler waiting 5 ms, with concurrency 8.
 */
function slowApp(appDir: string, name: string): string {
  const manifest = join(appDir, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8")
      .replace(/^name: .*$/m, `name: ${name}`)
      .replace("concurrency: 2", "concurrency: 8"),
  );
  writeFileSync(
    join(appDir, "functions", "noop.ts"),
    "export default () => new Promise((r) => setTimeout(r, 5));\n",
  );
  return appDir;
}
