/**
 * What the soak bench (bench/soak.ts) watches, with memory bounded by the events in flight (it runs
 * inside the platform's process, whose RSS is measured): the platform's own log lines for settles,
 * matched to the ids and send times the sender reports, and the resident memory of the platform and
 * of its sandboxes (Linux /proc; 0 elsewhere).
 */
import { readdirSync, readFileSync } from "node:fs";
import { createLogger, type Logger } from "../src/observe/index.ts";

/** Epoch ms with sub-ms precision, comparable across processes on this machine. */
import { epochNow } from "./pace.ts";

export { epochNow };

/** One accepted event settled: when it was sent and settled (epoch ms), and whether it was delivered. */
export type OnSettle = (sentAt: number, settledAt: number, delivered: boolean) => void;

export interface SettleTracker {
  /** A logger for the platform: `delivered`, `delivery failed` and retry lines are what is tracked. */
  readonly logger: Logger;
  /** Retry lines seen so far (attempts that failed and will be retried). */
  readonly retries: number;
  /** Accepted events not yet settled. */
  readonly outstanding: number;
  /** The sender's accepted ids and their send times (epoch ms). */
  accepted(ids: readonly string[], sentAt: readonly number[]): void;
  /** Where settles of accepted events go (replaced per phase). */
  onSettle: OnSettle;
  /**
   * Forgets settle lines older than `beforeMs` (epoch) of ids no sender reported (the untimed
   * warm-up's); returns how many.
   */
  sweep(beforeMs: number): number;
}

export function createSettleTracker(): SettleTracker {
  const sent = new Map<string, number>();
  const early = new Map<string, { at: number; delivered: boolean }>();
  let retries = 0;
  const settled = (id: string, at: number, delivered: boolean): void => {
    const sentAt = sent.get(id);
    if (sentAt === undefined) {
      // The settle line can come before the sender's report of the id (it reports every 250 ms).
      early.set(id, { at, delivered });
      return;
    }
    sent.delete(id);
    tracker.onSettle(sentAt, at, delivered);
  };
  const logger = createLogger({
    level: "info",
    destination: {
      write(chunk: string) {
        const at = epochNow();
        // Most lines are settles; anything else is skipped before parsing.
        if (!chunk.includes('"eventId"')) return;
        const line = JSON.parse(chunk) as { msg?: string; eventId?: string };
        if (line.eventId === undefined) return;
        if (line.msg === "delivered") settled(line.eventId, at, true);
        else if (line.msg === "delivery failed") settled(line.eventId, at, false);
        else if (line.msg === "attempt failed; will retry") retries += 1;
      },
    },
  });
  const tracker: SettleTracker = {
    logger,
    get retries() {
      return retries;
    },
    get outstanding() {
      return sent.size;
    },
    accepted(ids, sentAt) {
      ids.forEach((id, i) => {
        const t = sentAt[i] ?? 0;
        const done = early.get(id);
        if (done === undefined) sent.set(id, t);
        else {
          early.delete(id);
          tracker.onSettle(t, done.at, done.delivered);
        }
      });
    },
    onSettle: () => undefined,
    sweep(beforeMs) {
      let n = 0;
      for (const [id, { at }] of early)
        if (at < beforeMs) {
          early.delete(id);
          n += 1;
        }
      return n;
    },
  };
  return tracker;
}

/** Resident set size of `pid` in bytes (VmRSS), 0 when it is gone or there is no /proc. */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Direct children of `pid` (from every thread's /proc children list), [] without /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8")
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * The summed RSS (bytes) and number of this process's descendants other than `exclude` and its own
 * descendants (the sender): the sandbox processes, with bubblewrap's when the OS layer is on.
 */
export function sandboxRss(exclude: number | undefined): { bytes: number; processes: number } {
  let bytes = 0;
  let processes = 0;
  const queue = childrenOf(process.pid).filter((pid) => pid !== exclude);
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const rss = rssOf(pid);
    if (rss > 0) {
      bytes += rss;
      processes += 1;
    }
    queue.push(...childrenOf(pid));
  }
  return { bytes, processes };
}
