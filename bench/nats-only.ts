/**
 * `npm run bench:nats`: only the NATS section of `npm run bench` (issue 13's two aims), for working
 * on the NATS backend without the rest of the bench. Same knobs: BENCH_E2E_BATCHES, BENCH_BATCH_SIZE,
 * BENCH_BATCH_CONCURRENCY.
 */
import { rmSync } from "node:fs";
import { cpus } from "node:os";
import { formatCpu, totalCpu } from "./cpu-account.ts";
import { createBenchApp } from "./e2e.ts";
import { runNatsBench, SLOW_CONCURRENCY } from "./nats.ts";
import { ratio } from "./stats.ts";

const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const apps: string[] = [];
const newApp = () => {
  const dir = createBenchApp();
  apps.push(dir);
  return dir;
};
try {
  const run = await runNatsBench(newApp(), newApp, {
    batches: knob("BENCH_E2E_BATCHES", 100),
    batchSize: Math.min(1000, knob("BENCH_BATCH_SIZE", 500)),
    concurrency: knob("BENCH_BATCH_CONCURRENCY", 8),
    timeoutMs: 60_000,
  });
  const rate = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;
  console.log(`cores: ${cpus().length}; measured under: ${run.durability}`);
  console.log(
    `raw JetStream publish ${rate(run.rawPublishPerSec)}, publish + consume + ack ${rate(run.rawE2ePerSec)}`,
  );
  console.log(
    `palisade on NATS: accepted ${rate(run.acceptedPerSec)}, end to end ${rate(run.e2ePerSec)} = ${ratio(run.e2ePerSec, run.rawE2ePerSec)}× raw (aim ≥ 0.7×)`,
  );
  console.log(
    `CPU per event: raw ${formatCpu(run.rawCpuPerMsg, ["client", "nats-server", ""])}; palisade ${formatCpu(run.cpuPerEvent, ["platform", "nats-server", "sandboxes"])} (raw/palisade ${ratio(totalCpu(run.rawCpuPerMsg), totalCpu(run.cpuPerEvent))})`,
  );
  console.log(
    `gateway and worker as separate processes: end to end ${rate(run.processesPerSec)} = ${ratio(run.processesPerSec, run.rawE2ePerSec)}× raw`,
  );
  console.log(
    `5 ms handler, concurrency ${SLOW_CONCURRENCY}: 1 worker ${rate(run.oneWorkerPerSec)}, 2 workers ${rate(run.twoWorkersPerSec)} = ${ratio(run.twoWorkersPerSec, run.oneWorkerPerSec)}× (aim ≥ 1.6×)${run.timedOut ? " | TIMED OUT" : ""}`,
  );
} finally {
  for (const dir of apps) rmSync(dir, { recursive: true, force: true });
}
