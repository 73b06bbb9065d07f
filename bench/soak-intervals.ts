/**
 * The soak bench's time series: fixed intervals from the start of the offered load, each summarised
 * once it is over (plus a grace for late reports), so only the open intervals hold raw samples.
 */
import { quantile, round } from "./stats.ts";

/** One interval of the soak, summarised. */
export interface IntervalStats {
  /** Seconds from the start of the offered load to the interval's start and end. */
  fromS: number;
  toS: number;
  /** 202s per second of the requests sent in the interval. */
  acceptedPerSec: number;
  /** Settles per second logged in the interval (delivered or dead-lettered). */
  settledPerSec: number;
  delivered: number;
  failed: number;
  httpErrors: number;
  /** End to end (POST sent → handler done and delivery settled) of the events settled in the interval. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** POST sent → 202 received, requests sent in the interval. */
  acceptP99Ms: number;
  /** The furthest a send fell behind its schedule (a busy sender), in ms. */
  maxSendLagMs: number;
  /** The platform process's RSS: mean and max of the 1 s samples, MB. */
  rssMB: number;
  rssMaxMB: number;
  /**
   * The platform's V8 heap in use: mean and lowest of the 1 s samples (the lowest is about what
   * survives garbage collection), and memory outside the heap (Buffers, ArrayBuffers), mean, MB.
   */
  heapMB: number;
  heapMinMB: number;
  externalMB: number;
  /** The sandbox processes' summed RSS, mean of the 1 s samples, MB, and how many processes at the end. */
  sandboxRssMB: number;
  sandboxProcesses: number;
}

export interface IntervalBucket {
  accepted: number;
  settled: number;
  failed: number;
  httpErrors: number;
  latencies: number[];
  acceptMs: number[];
  maxSendLagMs: number;
  rss: number[];
  heap: number[];
  external: number[];
  sandboxRss: number[];
  sandboxProcesses: number;
}

const MB = 1024 * 1024;

function emptyBucket(): IntervalBucket {
  return {
    accepted: 0,
    settled: 0,
    failed: 0,
    httpErrors: 0,
    latencies: [],
    acceptMs: [],
    maxSendLagMs: 0,
    rss: [],
    heap: [],
    external: [],
    sandboxRss: [],
    sandboxProcesses: 0,
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);

function summarise(b: IntervalBucket, fromS: number, toS: number): IntervalStats {
  const secs = Math.max(1e-3, toS - fromS);
  b.latencies.sort((x, y) => x - y);
  b.acceptMs.sort((x, y) => x - y);
  return {
    fromS: round(fromS, 1),
    toS: round(toS, 1),
    acceptedPerSec: round(b.accepted / secs),
    settledPerSec: round(b.settled / secs),
    delivered: b.settled - b.failed,
    failed: b.failed,
    httpErrors: b.httpErrors,
    p50Ms: round(quantile(b.latencies, 0.5), 2),
    p99Ms: round(quantile(b.latencies, 0.99), 2),
    maxMs: round(quantile(b.latencies, 1), 2),
    acceptP99Ms: round(quantile(b.acceptMs, 0.99), 2),
    maxSendLagMs: round(b.maxSendLagMs, 2),
    rssMB: round(mean(b.rss) / MB),
    rssMaxMB: round(Math.max(0, ...b.rss) / MB),
    heapMB: round(mean(b.heap) / MB),
    heapMinMB: round((b.heap.length === 0 ? 0 : Math.min(...b.heap)) / MB),
    externalMB: round(mean(b.external) / MB),
    sandboxRssMB: round(mean(b.sandboxRss) / MB),
    sandboxProcesses: b.sandboxProcesses,
  };
}

/**
 * Intervals of `intervalMs` from `start` (epoch ms) to `start + seconds`; the last may be shorter.
 * `onClose` hears each one as it is summarised.
 */
export function createIntervals(
  start: number,
  seconds: number,
  intervalMs: number,
  onClose: (s: IntervalStats) => void = () => undefined,
) {
  const end = start + seconds * 1000;
  const count = Math.ceil((seconds * 1000) / intervalMs);
  const done: IntervalStats[] = [];
  const open: IntervalBucket[] = [emptyBucket()];
  /** The bucket of time `t` (epoch ms): the earliest still open if its own is summarised already. */
  const at = (t: number): IntervalBucket | undefined => {
    if (t >= end) return undefined;
    const k = Math.max(done.length, Math.min(count - 1, Math.floor((t - start) / intervalMs)));
    while (done.length + open.length <= k) open.push(emptyBucket());
    return open[k - done.length];
  };
  const close = (): void => {
    const b = open.shift() ?? emptyBucket();
    const k = done.length;
    const toMs = Math.min(end, start + (k + 1) * intervalMs);
    const stats = summarise(b, (k * intervalMs) / 1000, (toMs - start) / 1000);
    done.push(stats);
    onClose(stats);
  };
  return {
    end,
    at,
    /** Summarises every interval over for `graceMs` by `now`, or all of them when `now` is undefined. */
    closeUntil(now: number | undefined, graceMs: number): void {
      while (done.length < count) {
        const toMs = Math.min(end, start + (done.length + 1) * intervalMs);
        if (now !== undefined && toMs + graceMs > now) return;
        close();
      }
    },
    get done(): readonly IntervalStats[] {
      return done;
    },
  };
}

export type Intervals = ReturnType<typeof createIntervals>;
