/**
 * End-to-end latency at a fixed offered load (open loop): single `bench.ping` events are POSTed on a
 * timer at a fixed rate by a separate sender process, each on schedule whatever the earlier ones are
 * doing. An event's latency runs
 * from the moment its POST is issued to the moment the platform logs `delivered` for it, which it does
 * once the handler is done and the delivery is settled in the log (src/app-dispatcher.ts logOutcome).
 */

import { fork } from "node:child_process";
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { createBenchApp, EVENT_BODY } from "./e2e.ts";
import { drive } from "./load.ts";
import type { OpenLoopResult } from "./open-loop-client.ts";
import { quantile, round, sleep } from "./stats.ts";

export interface LatencyConfig {
  /** Offered rates in events/s, run in this order on one platform. */
  rates: readonly number[];
  /** How long each rate is offered, in seconds. */
  seconds: number;
  /** After the last send, how long to wait for the rest to be delivered, in ms. */
  drainMs: number;
  /** Sockets in the client's keep-alive agent. */
  sockets: number;
  /** Untimed events sent (closed loop) and delivered before the first rate. */
  warmup: number;
  /** Seconds each rate is offered before timing starts (opens the sender's connections). */
  warmupSeconds: number;
}

export interface RateResult {
  offeredRate: number;
  sent: number;
  accepted: number;
  httpErrors: number;
  firstError?: string;
  /** Sends issued per second over the sending window (≈ offeredRate when the timer kept up). */
  sentRate: number;
  /** The furthest any send fell behind its schedule (a busy event loop delays the timer), in ms. */
  maxSendLagMs: number;
  delivered: number;
  failed: number;
  /** Accepted events neither delivered nor failed when the drain timeout passed. */
  undelivered: number;
  /** Delivered events per second, from the first send to the last delivery. */
  deliveredRate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p99 of the HTTP 202 itself (send to response end), in ms. */
  acceptP99Ms: number;
}

const CLIENT = fileURLToPath(new URL("./open-loop-client.ts", import.meta.url));
/** Epoch ms with sub-ms precision, comparable across processes on this machine. */
const epochNow = (): number => performance.timeOrigin + performance.now();

/** Settle times (epoch ms) by event id, fed by the platform's own log lines. */
interface Settled {
  delivered: Map<string, number>;
  failed: Set<string>;
}

function settledLogger(settled: Settled) {
  return createLogger({
    level: "info",
    destination: {
      write(chunk: string) {
        const at = epochNow();
        const line = JSON.parse(chunk) as { msg?: string; eventId?: string };
        if (line.eventId === undefined) return;
        if (line.msg === "delivered") settled.delivered.set(line.eventId, at);
        else if (line.msg === "delivery failed") settled.failed.add(line.eventId);
      },
    },
  });
}

const isSettled = (s: Settled, id: string): boolean => s.delivered.has(id) || s.failed.has(id);

/** Waits until every id is settled or `deadline` (performance.now()) passes. */
async function drain(settled: Settled, ids: Iterable<string>, deadline: number): Promise<void> {
  let pending = [...ids].filter((id) => !isSettled(settled, id));
  while (pending.length > 0 && epochNow() < deadline) {
    await sleep(5);
    pending = pending.filter((id) => !isSettled(settled, id));
  }
}

/** Runs the open-loop sender in its own process (bench/open-loop-client.ts) and returns its timings. */
export function sendOpenLoop(url: URL, rate: number, cfg: LatencyConfig): Promise<OpenLoopResult> {
  return new Promise((resolve, reject) => {
    const child = fork(
      CLIENT,
      [url.href, String(rate), String(cfg.seconds), String(cfg.sockets), String(cfg.warmupSeconds)],
      {
        execArgv: [],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      },
    );
    let result: OpenLoopResult | undefined;
    child.on("message", (msg) => {
      result = msg as OpenLoopResult;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      result === undefined ? reject(new Error(`open-loop client exited with code ${code}`)) : resolve(result),
    );
  });
}

async function offer(url: URL, rate: number, cfg: LatencyConfig, settled: Settled): Promise<RateResult> {
  const total = Math.round(rate * cfg.seconds);
  const sent = await sendOpenLoop(url, rate, cfg);
  const { start, sendMs, maxSendLagMs, httpErrors, firstError, measuredFrom } = sent;
  // Warm-up requests are delivered like the rest (drained below) but not timed.
  await drain(
    settled,
    sent.ids.slice(0, measuredFrom).filter((id): id is string => id !== null),
    epochNow() + cfg.drainMs,
  );
  const sentAt = sent.sentAt.slice(measuredFrom);
  const ids = sent.ids.slice(measuredFrom).map((id) => id ?? undefined);
  const acceptMs = sent.acceptMs;

  const accepted = ids.filter((id): id is string => id !== undefined);
  await drain(settled, accepted, epochNow() + cfg.drainMs);

  const latencies: number[] = [];
  let lastDelivered = start;
  ids.forEach((id, i) => {
    const at = id === undefined ? undefined : settled.delivered.get(id);
    if (at === undefined) return;
    latencies.push(at - (sentAt[i] ?? at));
    lastDelivered = Math.max(lastDelivered, at);
  });
  latencies.sort((a, b) => a - b);
  acceptMs.sort((a, b) => a - b);
  const failed = accepted.filter((id) => settled.failed.has(id)).length;
  return {
    offeredRate: rate,
    sent: total,
    accepted: accepted.length,
    httpErrors,
    ...(firstError === undefined ? {} : { firstError }),
    sentRate: round((total / sendMs) * 1000),
    maxSendLagMs: round(maxSendLagMs, 2),
    delivered: latencies.length,
    failed,
    undelivered: accepted.length - latencies.length - failed,
    deliveredRate: round((latencies.length / Math.max(1, lastDelivered - start)) * 1000),
    p50Ms: round(quantile(latencies, 0.5), 2),
    p99Ms: round(quantile(latencies, 0.99), 2),
    maxMs: round(quantile(latencies, 1), 2),
    acceptP99Ms: round(quantile(acceptMs, 0.99), 2),
  };
}

/** Runs every rate against one platform on a fresh bench app (its own event log), then removes it. */
export async function runLatency(cfg: LatencyConfig): Promise<RateResult[]> {
  const appDir = createBenchApp();
  const settled: Settled = { delivered: new Map(), failed: new Set() };
  try {
    const platform = await startPlatform({
      appDir,
      logger: settledLogger(settled),
      port: 0,
      host: "127.0.0.1",
    });
    try {
      if (new URL(platform.url).hostname !== "127.0.0.1") throw new Error("bench talks to 127.0.0.1 only");
      const warm = await drive(platform.url, cfg.warmup, 16, EVENT_BODY);
      await drain(settled, warm.ids, epochNow() + cfg.drainMs);
      const results: RateResult[] = [];
      for (const rate of cfg.rates) results.push(await offer(new URL(platform.url), rate, cfg, settled));
      return results;
    } finally {
      await platform.close();
    }
  } finally {
    rmSync(appDir, { recursive: true, force: true });
  }
}
