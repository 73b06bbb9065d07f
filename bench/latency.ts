/**
 * End-to-end latency at a fixed offered load (open loop): single `bench.ping` events are POSTed on a
 * timer at a fixed rate, each on schedule whatever the earlier ones are doing. An event's latency runs
 * from the moment its POST is issued to the moment the platform logs `delivered` for it, which it does
 * once the handler is done and the delivery is settled in the log (src/main.ts logOutcome).
 */
import { rmSync } from "node:fs";
import { Agent } from "node:http";
import { performance } from "node:perf_hooks";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { createBenchApp, EVENT_BODY } from "./e2e.ts";
import { BENCH_KEY, drive, post } from "./load.ts";
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

/** Settle times (performance.now()) by event id, fed by the platform's own log lines. */
interface Settled {
  delivered: Map<string, number>;
  failed: Set<string>;
}

function settledLogger(settled: Settled) {
  return createLogger({
    level: "info",
    destination: {
      write(chunk: string) {
        const at = performance.now();
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
  while (pending.length > 0 && performance.now() < deadline) {
    await sleep(5);
    pending = pending.filter((id) => !isSettled(settled, id));
  }
}

async function offer(url: URL, rate: number, cfg: LatencyConfig, settled: Settled): Promise<RateResult> {
  const total = Math.round(rate * cfg.seconds);
  const agent = new Agent({ keepAlive: true, maxSockets: cfg.sockets });
  const headers = { "content-type": "application/json", authorization: `Bearer ${BENCH_KEY}` };
  const sentAt = new Float64Array(total);
  const acceptMs: number[] = [];
  const ids: (string | undefined)[] = new Array(total);
  const replies: Promise<void>[] = [];
  let httpErrors = 0;
  let firstError: string | undefined;
  let maxSendLagMs = 0;

  const fire = (i: number): void => {
    const t0 = performance.now();
    sentAt[i] = t0;
    const reply = post(agent, url, EVENT_BODY, headers).then((r) => {
      acceptMs.push(performance.now() - t0);
      if (r.status !== 202) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
      ids[i] = String((JSON.parse(r.text) as { ids: unknown[] }).ids[0]);
    });
    replies.push(
      reply.catch((err: unknown) => {
        httpErrors += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
      }),
    );
  };

  const start = performance.now();
  const interval = 1000 / rate;
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = (): void => {
      const now = performance.now();
      // Everything whose scheduled time has come goes out now, whatever is still in flight.
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      if (next < due) maxSendLagMs = Math.max(maxSendLagMs, now - (start + next * interval));
      for (; next < due; next += 1) fire(next);
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  const sendMs = performance.now() - start;
  await Promise.all(replies);
  agent.destroy();

  const accepted = ids.filter((id): id is string => id !== undefined);
  await drain(settled, accepted, performance.now() + cfg.drainMs);

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
      await drain(settled, warm.ids, performance.now() + cfg.drainMs);
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
