/** Prints the soak's interval table, totals and verdicts, and returns its JSON. */
import { availableParallelism } from "node:os";
import type { SoakResult } from "./soak-run.ts";
import { judgeSoak, type SoakVerdicts, type Verdict } from "./soak-verdicts.ts";
import { printTable, ratio, perSecond as rps } from "./stats.ts";

const ms = (n: number): string => n.toFixed(1);
const mark = (v: Verdict): string => (!v.judged ? "NOT JUDGED" : v.ok ? "ok" : "FAILED");

/** One line saying what was offered and why, for the report and the plot. */
export function soakSummary(r: SoakResult): string {
  const from =
    r.probe === undefined
      ? "rate given (BENCH_SOAK_RATE)"
      : `${Math.round(r.config.load * 100)} % of the measured maximum ${rps(r.probe.e2ePerSec)} events/s end to end`;
  return `${rps(r.rate)} events/s offered = ${from}; ${availableParallelism()} cores`;
}

export function reportSoak(r: SoakResult): { soak: Record<string, unknown> } {
  const verdicts = judgeSoak(r);
  if (r.probe !== undefined)
    console.log(
      `\nmaximum (closed loop, ${r.config.probeWorkers} in flight for ${r.config.probeSeconds} s, separate sender process):` +
        ` accepted ${rps(r.probe.acceptedPerSec)}/s, end to end ${rps(r.probe.e2ePerSec)}/s` +
        ` (first send → last settle) | unsettled ${r.probe.unsettled} | http errors ${r.probe.httpErrors}`,
    );
  printTable(
    `Soak: ${soakSummary(r)}; open loop from a separate sender process for ${r.config.seconds} s` +
      ` (first ${r.warmupSeconds} s warm-up). Latency = POST sent → handler done and delivery settled` +
      ` (the platform's \`delivered\` log line), of the events settled in the interval; RSS and heap = mean of 1 s samples (heap min = lowest)`,
    [
      "from s",
      "accepted/s",
      "settled/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "202 p99 ms",
      "RSS MB",
      "max MB",
      "heap MB (min)",
      "external MB",
      "sandboxes MB (n)",
      "send lag ms",
    ],
    r.intervals.map((i) => [
      `${i.fromS}–${i.toS}${i.toS <= r.warmupSeconds ? " (warm-up)" : ""}`,
      rps(i.acceptedPerSec),
      rps(i.settledPerSec),
      ms(i.p50Ms),
      ms(i.p99Ms),
      ms(i.maxMs),
      ms(i.acceptP99Ms),
      ms(i.rssMB),
      ms(i.rssMaxMB),
      `${ms(i.heapMB)} (${ms(i.heapMinMB)})`,
      ms(i.externalMB),
      `${ms(i.sandboxRssMB)} (${i.sandboxProcesses})`,
      ms(i.maxSendLagMs),
    ]),
  );
  const t = r.totals;
  const after = r.intervals.filter((i) => i.fromS >= r.warmupSeconds);
  const meanSettled = after.reduce((s, i) => s + i.settledPerSec, 0) / Math.max(1, after.length);
  console.log(
    `sent ${t.sent}, accepted ${t.accepted}, delivered ${t.delivered}, dead-lettered ${t.failed}, unsettled ${t.unsettled}` +
      ` | settled after the load ended ${t.drained} (worst ${ms(t.drainedMaxMs)} ms) | worst send lag ${ms(t.maxSendLagMs)} ms` +
      ` | settled/s after warm-up = ${ratio(meanSettled, r.rate)}× offered | store check of ${r.store.checked} ids took ${ms(r.store.checkMs / 1000)} s`,
  );
  if (t.firstError) console.log(`first HTTP error: ${t.firstError}`);
  printVerdicts(verdicts);
  return { soak: { ...r, verdicts } };
}

function printVerdicts(v: SoakVerdicts): void {
  const rows: [string, Verdict][] = [
    ["RSS flat (platform)", v.rss],
    ["RSS flat (sandboxes)", v.sandboxRss],
    ["p99 stable", v.p99],
    ["nothing lost", v.lost],
  ];
  console.log("");
  for (const [name, verdict] of rows) {
    console.log(`${name}: ${mark(verdict)} — ${verdict.detail}`);
    console.log(`  rule: ${verdict.rule}`);
  }
}
