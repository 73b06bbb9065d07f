/** Prints the fixed-offered-load latency table and returns its JSON. */
import type { LatencyConfig, RateResult } from "./latency.ts";
import { printTable, perSecond as rps } from "./stats.ts";

const ms = (n: number): string => n.toFixed(1);
/** Issue 14's latency aims on 2 cores, by offered rate (events/s): p50 and p99 in ms. */
export const LATENCY_AIMS: Readonly<Record<number, { p50: number; p99: number }>> = {
  500: { p50: 2, p99: 5 },
  2000: { p50: 4, p99: 15 },
};

export function reportLatency(
  results: readonly RateResult[],
  cfg: LatencyConfig,
  cores: number,
): Record<string, unknown> {
  printTable(
    `End-to-end latency at a fixed offered load (open loop from a separate sender process, ${cfg.seconds} s per rate` +
      ` after ${cfg.warmupSeconds} s of warm-up at that rate, ${cores} cores;` +
      ` POST sent → handler done and delivery settled; drain timeout ${cfg.drainMs / 1000} s)`,
    ["offered/s", "sent/s", "delivered/s", "p50 ms", "p99 ms", "max ms", "undelivered", "202 p99 ms"],
    results.map((r) => [
      rps(r.offeredRate),
      rps(r.sentRate),
      rps(r.deliveredRate),
      ms(r.p50Ms),
      ms(r.p99Ms),
      ms(r.maxMs),
      `${r.undelivered}/${r.accepted}`,
      ms(r.acceptP99Ms),
    ]),
  );
  for (const r of results) {
    const aim = LATENCY_AIMS[r.offeredRate];
    const verdict =
      aim === undefined
        ? ""
        : r.p50Ms <= aim.p50 && r.p99Ms <= aim.p99 && r.undelivered === 0
          ? " — aim met"
          : " — aim missed";
    console.log(
      `${rps(r.offeredRate)}/s: delivered ${r.delivered}, failed ${r.failed}, undelivered ${r.undelivered}` +
        ` of ${r.accepted} accepted (${r.sent} sent) | http errors ${r.httpErrors}` +
        ` | worst send lag ${ms(r.maxSendLagMs)} ms${verdict}`,
    );
    if (r.firstError) console.log(`first error at ${r.offeredRate}/s: ${r.firstError}`);
  }
  console.log(
    "aims on 2 cores: p50 ≤ 2 ms, p99 ≤ 5 ms at 500 events/s; p50 ≤ 4 ms, p99 ≤ 15 ms at 2,000 events/s" +
      " (delivered/s below an offered rate means the queue grew during the run)",
  );
  return { latency: { config: cfg, rates: results } };
}
