/** Prints the fixed-offered-load latency table and returns its JSON. */
import type { LatencyConfig, RateResult } from "./latency.ts";
import { printTable, perSecond as rps } from "./stats.ts";

const ms = (n: number): string => n.toFixed(1);

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
    const verdict =
      r.offeredRate !== 2000 ? "" : r.p99Ms <= 20 && r.undelivered === 0 ? " — aim met" : " — aim missed";
    console.log(
      `${rps(r.offeredRate)}/s: delivered ${r.delivered}, failed ${r.failed}, undelivered ${r.undelivered}` +
        ` of ${r.accepted} accepted (${r.sent} sent) | http errors ${r.httpErrors}` +
        ` | worst send lag ${ms(r.maxSendLagMs)} ms${verdict}`,
    );
    if (r.firstError) console.log(`first error at ${r.offeredRate}/s: ${r.firstError}`);
  }
  console.log(
    "aim on 2 cores: p99 ≤ 20 ms at 2,000 events/s; ≥ 20,000 events/s end-to-end with batching" +
      " (delivered/s below an offered rate means the queue grew during the run)",
  );
  return { latency: { config: cfg, rates: results } };
}
