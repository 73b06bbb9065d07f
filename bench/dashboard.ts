/**
 * What an open dashboard costs the data path: end-to-end throughput with batching (runBatchE2e) with
 * and without one dashboard client connected (bench/dashboard-client.ts, in its own process: the live
 * stream plus the overview polled every 2 s), in alternating pairs on fresh apps; the ratio of the
 * medians is the cost (aim ≥ 0.95×). Run alone: `npm run bench:dashboard`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openAppSecrets } from "../src/main.ts";
import { createBenchApp } from "./e2e.ts";
import { type BatchE2eConfig, runBatchE2e } from "./e2e-batch.ts";
import { quantile, ratio, perSecond as rps, times as x } from "./stats.ts";

const median = (values: readonly number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

const ADMIN_KEY = "bench-admin-key-0123456789abcdef";
const CLIENT = fileURLToPath(new URL("./dashboard-client.ts", import.meta.url));

export interface DashboardCost {
  readonly without: readonly number[];
  readonly with: readonly number[];
  readonly ratio: number;
  /** What the dashboard clients saw, in all: stream batches, items and items counted as dropped. */
  readonly seen: { batches: number; items: number; dropped: number; overviews: number };
}

export async function runDashboardCost(cfg: BatchE2eConfig, pairs = 3): Promise<DashboardCost> {
  const without: number[] = [];
  const withDashboard: number[] = [];
  const seen = { batches: 0, items: 0, dropped: 0, overviews: 0 };
  for (let i = 0; i < pairs; i++) {
    // Alternate which goes first, so a warming or cooling machine does not favour one side.
    for (const dashboard of i % 2 === 0 ? [false, true] : [true, false]) {
      const app = createBenchApp();
      openAppSecrets(app).set("PALISADE_ADMIN_KEY", ADMIN_KEY);
      let client: Client | undefined;
      try {
        const run = await runBatchE2e(app, {
          ...cfg,
          ...(dashboard
            ? {
                onStarted: async (url: string) => {
                  client = await startClient(url);
                },
              }
            : {}),
        });
        (dashboard ? withDashboard : without).push(run.e2eEventsPerSec);
      } finally {
        if (client !== undefined) Object.assign(seen, add(seen, await stopClient(client)));
        rmSync(app, { recursive: true, force: true });
      }
    }
  }
  return { without, with: withDashboard, ratio: ratio(median(withDashboard), median(without)), seen };
}

/** A started client and everything it has printed so far. */
interface Client {
  readonly child: ChildProcess;
  out: string;
}

function startClient(url: string): Promise<Client> {
  const child = spawn(process.execPath, [CLIENT, url], {
    env: { ...process.env, PALISADE_ADMIN_KEY: ADMIN_KEY },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const client: Client = { child, out: "" };
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      client.out += chunk.toString();
      if (client.out.includes("connected\n")) resolve(client);
    });
    child.once("exit", (code) =>
      reject(new Error(`the dashboard client exited (${code}) before it connected`)),
    );
  });
}

async function stopClient(client: Client): Promise<DashboardCost["seen"]> {
  const exited = new Promise((resolve) => client.child.once("exit", resolve));
  client.child.kill("SIGTERM");
  await exited;
  const last = client.out.trim().split("\n").at(-1) ?? "";
  if (!last.startsWith("{"))
    throw new Error(`the dashboard client printed no summary: ${client.out.slice(-200)}`);
  return JSON.parse(last) as DashboardCost["seen"];
}

function add(a: DashboardCost["seen"], b: DashboardCost["seen"]): DashboardCost["seen"] {
  return {
    batches: a.batches + b.batches,
    items: a.items + b.items,
    dropped: a.dropped + b.dropped,
    overviews: a.overviews + b.overviews,
  };
}

/** The section's lines, for `npm run bench` and `npm run bench:dashboard`. */
export function reportDashboard(cost: DashboardCost): string {
  const list = (rates: readonly number[]) => rates.map((r) => rps(r)).join(", ");
  return (
    `dashboard open: end to end ${list(cost.with)} events/s with one dashboard client vs ${list(cost.without)} without; ` +
    `medians ${rps(median(cost.with))} vs ${rps(median(cost.without))} = ${x(cost.ratio)} (aim ≥ 0.95×${cost.ratio >= 0.95 ? "" : " — missed"})` +
    ` | the clients got ${cost.seen.batches} stream batches with ${cost.seen.items} items (${cost.seen.dropped} past the 500-per-250 ms cap counted, not sent) and ${cost.seen.overviews} overviews`
  );
}

if (import.meta.main) {
  const cost = await runDashboardCost({ batches: 100, batchSize: 500, concurrency: 8, timeoutMs: 30_000 });
  console.log(reportDashboard(cost));
}
