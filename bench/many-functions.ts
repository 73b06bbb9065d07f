/**
 * Cost against the number of functions deployed: the same single-event requests end to end (closed
 * loop, 64 in flight, to the one `noop` subscriber) on the bench app alone and on the bench app plus
 * 50 more functions, each subscribed to a type of its own that receives nothing. What is compared is
 * the platform process's CPU per delivered event (the idle functions' sandboxes are other processes),
 * each the mean of two runs in alone, crowded, alone, crowded order. Dispatch asks the store only about
 * the functions an append gave work to, so the idle ones should cost nothing per event.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { createBenchApp, EVENT_BODY } from "./e2e.ts";
import { drive } from "./load.ts";
import { printTable, ratio, round, perSecond as rps, sleep, times as x } from "./stats.ts";

export interface CrowdRun {
  functions: number;
  eventsPerSec: number;
  cpuUsPerEvent: number;
  timedOut: boolean;
}

export interface ManyFunctions {
  extra: number;
  alone: CrowdRun;
  crowded: CrowdRun;
  /** CPU per event crowded / alone (1.0: the idle functions cost nothing per event). */
  cpuRatio: number;
}

/** The bench app with `extra` more functions, each on a type of its own. */
function crowdedApp(extra: number): string {
  const dir = createBenchApp();
  const file = join(dir, "palisade.yaml");
  const types = Array.from({ length: extra }, (_, i) => `idle.t${i}`);
  const manifest = readFileSync(file, "utf8")
    .replace(
      "events:\n",
      `events:\n${types.map((t) => `  ${t}: { schema: schemas/bench.ping.json }\n`).join("")}`,
    )
    .concat(types.map((t, i) => `  idle${i}:\n    handler: functions/noop.ts\n    on: [${t}]\n`).join(""));
  writeFileSync(file, manifest);
  return dir;
}

async function runOnce(extra: number, events: number, timeoutMs: number): Promise<CrowdRun> {
  const dir = crowdedApp(extra);
  let delivered = 0;
  const logger = createLogger({
    level: "info",
    destination: {
      write(line: string) {
        if (line.includes('"msg":"delivered"')) delivered += 1;
      },
    },
  });
  try {
    const platform = await startPlatform({ appDir: dir, logger, port: 0, host: "127.0.0.1" });
    try {
      await drive(platform.url, 500, 64, EVENT_BODY);
      while (delivered < 500) await sleep(2);
      const from = delivered;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await drive(platform.url, events, 64, EVENT_BODY);
      const deadline = t0 + timeoutMs;
      while (delivered - from < events && performance.now() < deadline) await sleep(2);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const done = delivered - from;
      return {
        functions: 1 + extra,
        eventsPerSec: (done / ms) * 1000,
        cpuUsPerEvent: (cpu.user + cpu.system) / Math.max(1, done),
        timedOut: done < events,
      };
    } finally {
      await platform.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mean(runs: readonly CrowdRun[]): CrowdRun {
  const n = runs.length;
  return {
    functions: runs[0]?.functions ?? 0,
    eventsPerSec: runs.reduce((s, r) => s + r.eventsPerSec, 0) / n,
    cpuUsPerEvent: runs.reduce((s, r) => s + r.cpuUsPerEvent, 0) / n,
    timedOut: runs.some((r) => r.timedOut),
  };
}

export async function runManyFunctions(
  extra = 50,
  events = 4000,
  timeoutMs = 60_000,
): Promise<ManyFunctions> {
  const alone: CrowdRun[] = [];
  const crowded: CrowdRun[] = [];
  for (let i = 0; i < 2; i++) {
    alone.push(await runOnce(0, events, timeoutMs));
    crowded.push(await runOnce(extra, events, timeoutMs));
  }
  const a = mean(alone);
  const c = mean(crowded);
  return { extra, alone: a, crowded: c, cpuRatio: ratio(c.cpuUsPerEvent, a.cpuUsPerEvent) };
}

export function reportManyFunctions(r: ManyFunctions): Record<string, unknown> {
  printTable(
    `Functions deployed (single-event requests end to end to one subscriber, 64 in flight; then with ${r.extra} more functions whose types receive nothing; platform CPU per event, mean of 2 runs each)`,
    ["functions", "events/s", "platform CPU µs/event", "vs alone"],
    [r.alone, r.crowded].map((run, i) => [
      String(run.functions),
      rps(run.eventsPerSec),
      round(run.cpuUsPerEvent).toFixed(0),
      x(i === 0 ? 1 : r.cpuRatio),
    ]),
  );
  if (r.alone.timedOut || r.crowded.timedOut)
    console.log("functions deployed: a run timed out before every event was delivered");
  return { manyFunctions: r };
}

if (import.meta.main) reportManyFunctions(await runManyFunctions());
