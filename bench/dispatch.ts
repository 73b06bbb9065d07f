/**
 * The delivery engine alone: routing, admission, durable state and settles on the real SQLite store,
 * with an in-process no-op in place of the sandbox, so its cost is visible apart from IPC.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDispatcher, openSqliteStore } from "../src/bus/index.ts";
import { createEvent } from "../src/events/index.ts";
import { DEFAULT_RETRY } from "../src/manifest/index.ts";

export interface DispatchRun {
  concurrency: number;
  eventsPerSec: number;
  deliveriesPerCommit: number;
}

/** Delivers `events` already in the log to one no-op target at each concurrency. */
export async function runDispatch(events: number, concurrencies: readonly number[]): Promise<DispatchRun[]> {
  const runs: DispatchRun[] = [];
  for (const concurrency of concurrencies) {
    const dir = mkdtempSync(join(tmpdir(), "palisade-bench-dispatch-"));
    const log = openSqliteStore(join(dir, "events.db"), {
      subscriptions: [{ name: "noop", on: ["bench.ping"] }],
    });
    try {
      const origin = { principal: "bench", source: "/bench", hop: 0 };
      await log.events.append(
        Array.from({ length: events }, (_, i) =>
          createEvent({ type: "bench.ping", data: {}, id: `d${i}` }, origin),
        ),
      );
      const before = { ...log.stats };
      let done = 0;
      const start = performance.now();
      await new Promise<void>((resolve) => {
        const dispatcher = createDispatcher({
          queue: log.queue,
          state: log.state,
          targets: [{ name: "noop", concurrency, retry: DEFAULT_RETRY }],
          invoke: async () => {},
          onSettled: () => {
            if (++done === events) void dispatcher.close().then(resolve);
          },
        });
      });
      const ms = performance.now() - start;
      const commits = log.stats.commits - before.commits;
      runs.push({
        concurrency,
        eventsPerSec: (events / ms) * 1000,
        deliveriesPerCommit: events / commits,
      });
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return runs;
}
