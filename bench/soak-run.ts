/**
 * The soak (issue 14): the platform with everything on (API-key auth, schema validation, encryption
 * at rest, audit, tracing, sandboxes) on the bench app. First the maximum end-to-end rate of
 * single-event requests is measured closed loop; then a fraction of it (80 %) is offered open loop
 * for minutes, both from a sender in its own process (bench/soak-client.ts). Every interval records
 * accepted/s, settled/s, end-to-end p50/p99 (POST sent → handler done and delivery settled, from the
 * platform's `delivered` log line) and RSS; at the end every accepted id is looked up in the store.
 */
import { fork } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { Store } from "../src/bus/index.ts";
import { startPlatform } from "../src/main.ts";
import { createBenchApp, EVENT_BODY, waitSettled } from "./e2e.ts";
import { drive } from "./load.ts";
import type { SoakBatch, SoakClientMessage } from "./soak-client.ts";
import { createIntervals, type IntervalStats, type Intervals } from "./soak-intervals.ts";
import {
  createSettleTracker,
  epochNow,
  type OnSettle,
  type SettleTracker,
  sandboxRss,
} from "./soak-track.ts";
import { round, sleep } from "./stats.ts";

export interface SoakConfig {
  /** How long the load is offered, in seconds (the warm-up is part of it). */
  seconds: number;
  /**
   * The warm-up, left out of the RSS and p99 verdicts: at least this many seconds of the offered load,
   * and until `warmupEvents` have been accepted (probe included), so that the platform's bounded
   * in-memory caches are full before RSS is judged; at most half the run.
   */
  warmupSeconds: number;
  warmupEvents: number;
  intervalSeconds: number;
  /** Fraction of the measured maximum offered. @default 0.8 */
  load: number;
  /** Closed-loop run that measures the maximum: seconds, and requests kept in flight. */
  probeSeconds: number;
  probeWorkers: number;
  /** Offer this rate (events/s) instead of measuring the maximum. */
  rate?: number;
  /** Sockets of the open-loop sender's keep-alive agent. */
  sockets: number;
  /** After the last send, how long to wait for the rest to settle, in ms. */
  drainMs: number;
}

export interface SoakProbe {
  accepted: number;
  httpErrors: number;
  acceptedPerSec: number;
  /** Settled delivered per second, from the first send to the last settle. */
  e2ePerSec: number;
  unsettled: number;
}

export interface SoakTotals {
  sent: number;
  accepted: number;
  httpErrors: number;
  firstError?: string;
  delivered: number;
  failed: number;
  retries: number;
  /** Accepted events with no settle line when the drain timeout passed. */
  unsettled: number;
  /** Settled after the offered load ended (during the drain), and the worst of their latencies. */
  drained: number;
  drainedMaxMs: number;
  maxSendLagMs: number;
}

export interface StoreCheck {
  /** Accepted ids (probe and soak) looked up in the store, and how long that took. */
  checked: number;
  checkMs: number;
  delivered: number;
  /** Ids whose deliveries are not all `delivered` (pending or dead), or with no delivery at all. */
  notDelivered: number;
  missing: number;
  /** Store-wide counts at the end, less those before the probe. */
  pending: number;
  deadLettered: number;
}

export interface SoakResult {
  config: SoakConfig;
  probe?: SoakProbe;
  /** The offered rate, events/s. */
  rate: number;
  /** The warm-up in effect, seconds (whole intervals; see SoakConfig.warmupSeconds). */
  warmupSeconds: number;
  intervals: IntervalStats[];
  totals: SoakTotals;
  store: StoreCheck;
}

const CLIENT = fileURLToPath(new URL("./soak-client.ts", import.meta.url));

/** Accepted ids, one per line, in a file: the end check needs them all, the heap should not hold them. */
function createIdLog(dir: string) {
  const path = join(dir, "ids");
  let fd: number | undefined = openSync(path, "a");
  return {
    path,
    append(ids: readonly string[]): void {
      if (ids.length > 0 && fd !== undefined) writeSync(fd, `${ids.join("\n")}\n`);
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

type IdLog = ReturnType<typeof createIdLog>;

/** Runs the sender in its own process; every message goes to `onMessage`; resolves when it is done. */
function runClient(
  args: readonly string[],
  onMessage: (msg: SoakClientMessage, pid: number | undefined) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(CLIENT, args, { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let done = false;
    child.on("message", (msg: SoakClientMessage) => {
      if (msg.kind === "done") done = true;
      onMessage(msg, child.pid);
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      done ? resolve() : reject(new Error(`soak client exited with code ${code} before it was done`)),
    );
  });
}

async function waitSettles(tracker: SettleTracker, deadline: number): Promise<void> {
  while (tracker.outstanding > 0 && epochNow() < deadline) await sleep(20);
}

/** Closed loop for `probeSeconds`: the most it delivers end to end (accepted ones all settled). */
async function probeMax(
  url: string,
  tracker: SettleTracker,
  cfg: SoakConfig,
  ids: IdLog,
): Promise<SoakProbe> {
  let accepted = 0;
  let httpErrors = 0;
  let delivered = 0;
  let start = 0;
  let lastSettle = 0;
  let sendEnd = 0;
  tracker.onSettle = (_sentAt, at, ok) => {
    if (ok) delivered += 1;
    lastSettle = Math.max(lastSettle, at);
  };
  const args = ["closed", url, String(cfg.probeWorkers), String(cfg.probeSeconds), String(cfg.probeWorkers)];
  await runClient(args, (msg) => {
    if (msg.kind === "start") start = msg.at;
    else if (msg.kind === "done") sendEnd = msg.at;
    else {
      ids.append(msg.ids);
      tracker.accepted(msg.ids, msg.sentAt);
      accepted += msg.ids.length;
      httpErrors += msg.httpErrors;
    }
  });
  await waitSettles(tracker, epochNow() + cfg.drainMs);
  return {
    accepted,
    httpErrors,
    acceptedPerSec: round((accepted / Math.max(1, sendEnd - start)) * 1000),
    e2ePerSec: round((delivered / Math.max(1, lastSettle - start)) * 1000),
    unsettled: tracker.outstanding,
  };
}

function emptyTotals(): SoakTotals {
  return {
    sent: 0,
    accepted: 0,
    httpErrors: 0,
    delivered: 0,
    failed: 0,
    retries: 0,
    unsettled: 0,
    drained: 0,
    drainedMaxMs: 0,
    maxSendLagMs: 0,
  };
}

/** The bookkeeping of one sender batch: ids to the log and tracker, counts to their intervals. */
function recordBatch(msg: SoakBatch, series: Intervals, totals: SoakTotals): void {
  totals.sent += msg.sent;
  totals.accepted += msg.ids.length;
  totals.httpErrors += msg.httpErrors;
  if (msg.firstError !== undefined) totals.firstError ??= msg.firstError;
  totals.maxSendLagMs = Math.max(totals.maxSendLagMs, msg.maxSendLagMs);
  msg.sentAt.forEach((t, i) => {
    const b = series.at(t);
    if (b === undefined) return;
    b.accepted += 1;
    b.acceptMs.push(msg.acceptMs[i] ?? 0);
  });
  const now = series.at(epochNow());
  if (now === undefined) return;
  now.httpErrors += msg.httpErrors;
  now.maxSendLagMs = Math.max(now.maxSendLagMs, msg.maxSendLagMs);
}

/** Samples RSS each second into the current interval and summarises the intervals that are over. */
function startSampler(series: Intervals, clientPid: () => number | undefined) {
  return setInterval(() => {
    const now = epochNow();
    const b = series.at(now);
    if (b !== undefined) {
      const mem = process.memoryUsage();
      b.rss.push(mem.rss);
      b.heap.push(mem.heapUsed);
      b.external.push(mem.external);
      const kids = sandboxRss(clientPid());
      b.sandboxRss.push(kids.bytes);
      b.sandboxProcesses = kids.processes;
    }
    series.closeUntil(now, 2000);
  }, 1000);
}

/** Where runSoak says what it is doing (a line per phase and per interval). */
export type Progress = (line: string) => void;

const describe = (s: IntervalStats): string =>
  `  ${s.fromS}–${s.toS} s: accepted ${Math.round(s.acceptedPerSec)}/s, settled ${Math.round(s.settledPerSec)}/s,` +
  ` p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, RSS ${s.rssMB} MB (heap ${s.heapMB} MB), sandboxes ${s.sandboxRssMB} MB`;

/** Counts a settle in the totals and in the interval it happened in (or as drained after the load). */
function settleInto(series: () => Intervals, totals: SoakTotals): OnSettle {
  return (sentAt, at, ok) => {
    if (ok) totals.delivered += 1;
    else totals.failed += 1;
    const b = series().at(at);
    if (b === undefined) {
      totals.drained += 1;
      totals.drainedMaxMs = Math.max(totals.drainedMaxMs, round(at - sentAt, 2));
      return;
    }
    b.settled += 1;
    if (ok) b.latencies.push(at - sentAt);
    else b.failed += 1;
  };
}

/** Offers `rate` open loop for `cfg.seconds`, then waits for the rest to settle. */
async function offerLoad(
  url: string,
  rate: number,
  tracker: SettleTracker,
  cfg: SoakConfig,
  ids: IdLog,
  progress: Progress,
) {
  const totals = emptyTotals();
  let series = createIntervals(epochNow(), cfg.seconds, cfg.intervalSeconds * 1000);
  let sampler: ReturnType<typeof setInterval> | undefined;
  let client: number | undefined;
  tracker.onSettle = settleInto(() => series, totals);
  const retriesBefore = tracker.retries;
  const args = ["open", url, String(rate), String(cfg.seconds), String(cfg.sockets)];
  try {
    await runClient(args, (msg, pid) => {
      if (msg.kind === "start") {
        client = pid;
        series = createIntervals(msg.at, cfg.seconds, cfg.intervalSeconds * 1000, (s) =>
          progress(describe(s)),
        );
        sampler = startSampler(series, () => client);
      } else if (msg.kind === "batch") {
        ids.append(msg.ids);
        recordBatch(msg, series, totals);
        tracker.accepted(msg.ids, msg.sentAt);
      }
    });
    await waitSettles(tracker, epochNow() + cfg.drainMs);
  } finally {
    clearInterval(sampler);
  }
  series.closeUntil(undefined, 0);
  return {
    intervals: [...series.done],
    totals: { ...totals, retries: tracker.retries - retriesBefore, unsettled: tracker.outstanding },
  };
}

/** Looks every accepted id up in the store: each must have deliveries, all `delivered`. */
async function checkStore(store: Store, idsPath: string, before: { pending: number; failed: number }) {
  const start = performance.now();
  const ids = readFileSync(idsPath, "utf8").split("\n").filter(Boolean);
  const check: StoreCheck = {
    checked: ids.length,
    checkMs: 0,
    delivered: 0,
    notDelivered: 0,
    missing: 0,
    pending: 0,
    deadLettered: 0,
  };
  for (const id of ids) {
    const states = await store.queue.deliveries(id);
    if (states.length === 0) check.missing += 1;
    else if (states.every((s) => s.state === "delivered")) check.delivered += 1;
    else check.notDelivered += 1;
  }
  const after = await store.maintenance.stateCounts();
  check.pending = after.pending - before.pending;
  check.deadLettered = after.failed - before.failed;
  check.checkMs = round(performance.now() - start);
  return check;
}

/** The warm-up in effect: whole intervals, see SoakConfig.warmupSeconds. */
export function warmupFor(cfg: SoakConfig, rate: number, acceptedBefore: number): number {
  const step = cfg.intervalSeconds;
  const toFill = Math.max(0, cfg.warmupEvents - acceptedBefore) / rate;
  const wanted = Math.ceil(Math.max(cfg.warmupSeconds, toFill) / step) * step;
  return Math.min(wanted, Math.max(step, Math.floor(cfg.seconds / 2 / step) * step));
}

/** Runs the soak on a fresh bench app (its own event log) and removes it afterwards. */
export async function runSoak(cfg: SoakConfig, progress: Progress = () => undefined): Promise<SoakResult> {
  const appDir = createBenchApp();
  const work = mkdtempSync(join(tmpdir(), "palisade-soak-"));
  const ids = createIdLog(work);
  const tracker = createSettleTracker();
  try {
    const platform = await startPlatform({ appDir, logger: tracker.logger, port: 0, host: "127.0.0.1" });
    try {
      const url = platform.url;
      if (new URL(url).hostname !== "127.0.0.1") throw new Error("bench talks to 127.0.0.1 only");
      const warm = await drive(url, 200, 16, EVENT_BODY);
      await waitSettled(platform.store, warm.ids, performance.now() + cfg.drainMs);
      const before = await platform.store.maintenance.stateCounts();
      const probe = cfg.rate === undefined ? await probeMax(url, tracker, cfg, ids) : undefined;
      const rate = cfg.rate ?? Math.max(1, Math.round((probe?.e2ePerSec ?? 0) * cfg.load));
      tracker.sweep(epochNow());
      const warmupSeconds = warmupFor(cfg, rate, warm.accepted + (probe?.accepted ?? 0));
      if (probe !== undefined)
        progress(`maximum (closed loop): ${Math.round(probe.e2ePerSec)} events/s end to end`);
      progress(`offering ${rate} events/s for ${cfg.seconds} s (warm-up ${warmupSeconds} s)`);
      const { intervals, totals } = await offerLoad(url, rate, tracker, cfg, ids, progress);
      progress("load over; checking every accepted id in the store");
      ids.close();
      const store = await checkStore(platform.store, ids.path, before);
      const probed = probe === undefined ? {} : { probe };
      return { config: cfg, ...probed, rate, warmupSeconds, intervals, totals, store };
    } finally {
      await platform.close();
    }
  } finally {
    ids.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(appDir, { recursive: true, force: true });
  }
}
