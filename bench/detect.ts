/**
 * The detectors' evaluation (issue 15; a report, not a test): `npm run bench:detect [-- --seed N]`.
 * Seeded synthetic workloads in simulated time (no sleeping, nothing real on the network): a week of
 * Poisson traffic with a daily shape per detector, benign hard negatives and attack ladders injected
 * at known times, driven through the real detector modules of src/detect with an injected clock.
 * Each detector's table sits next to baselines on the same traffic (a static threshold, EWMA ± 3σ,
 * and for loops the 16-hop rule). Same seed, same tables. Always exits 0; aims missed say so.
 */
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { runCostDriftBench } from "./detect/cost-drift-bench.ts";
import type { BookTotals } from "./detect/delivery-book.ts";
import { runDeniedBench } from "./detect/denied-bench.ts";
import { runLineageBench } from "./detect/lineage-bench.ts";
import { runNoveltyBench } from "./detect/novelty-bench.ts";
import { runOutliersBench } from "./detect/outliers-bench.ts";
import { type Aim, type DetectorReport, printAims, printDetector } from "./detect/report.ts";
import { count, share } from "./detect/score.ts";
import { runStuffingBench } from "./detect/stuffing-bench.ts";
import { printTable } from "./stats.ts";

const DEFAULT_SEED = 15;

const { values } = parseArgs({ options: { seed: { type: "string" } } });
const seed = Number(values.seed ?? DEFAULT_SEED);
if (!Number.isInteger(seed) || seed < 0)
  throw new Error(`--seed must be a non-negative integer, not "${values.seed}"`);

const started = performance.now();
console.log(
  `palisade bench:detect — node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown"}), ${process.platform}-${process.arch}; seed ${seed}`,
);

const lineage = runLineageBench(seed);
printDetector(lineage.report);
const novelty = runNoveltyBench(seed);
printDetector(novelty);
const denied = runDeniedBench(seed);
printDetector(denied.report);
const stuffing = runStuffingBench(seed);
printDetector(stuffing.report);

const costDrift = runCostDriftBench(seed);
printDetector(costDrift);
const outliers = runOutliersBench(seed);
printDetector(outliers);

const l = lineage.book;
const d = denied.book;
/** A workload's row of the delivery book: how its deliveries ended, and any lost or duplicated. */
const bookRow = (workload: string, b: BookTotals): string[] => [
  workload,
  count(b.created),
  count(b.ended.delivered),
  count(b.ended["dead-lettered"]),
  count(b.ended.held),
  count(b.ended.cut),
  count(b.lost),
  count(b.duplicated),
];
printTable(
  "Events lost or duplicated (every simulated delivery must end exactly once: run, dead-lettered after its attempts, held, or cut at the horizon)",
  ["workload", "made", "ran", "dead-lettered", "held at the end", "cut at horizon", "lost", "duplicated"],
  [
    bookRow("detector 1 chains (hold run)", l),
    bookRow("detector 3 deliveries (quarantine, then release)", d),
    [
      "detector 4 requests (answered once each)",
      count(stuffing.answered.requests),
      "",
      "",
      "",
      "",
      count(stuffing.answered.lost),
      count(stuffing.answered.duplicated),
    ],
    // Their alerts hold nothing; novelty's hold and cost drift's throttle are not simulated here:
    // that they lose and repeat nothing is shown on a real platform by the tests named.
    [
      "detectors 2, 5, 6 (hold, throttle: test/capability-holds, test/cost-drift)",
      "",
      "",
      "",
      "",
      "",
      "—",
      "—",
    ],
  ],
);

const scoreAims = (n: number, r: DetectorReport): Aim[] => {
  const s = r.methods[0]?.score;
  if (s === undefined) return [];
  const missed = r.ladder.rows.filter(
    (row) => /^0\//.test(row[1] ?? "") && !/\((blind spot|adaptive)\)/.test(row[0] ?? ""),
  );
  return [
    {
      what: `D${n} recall ≥ 0.95 (ladder rungs)`,
      met: (s.recall ?? 0) >= 0.95,
      detail: `${share(s.recall)} (at or above the policy: ${share(s.recallAtPolicy)})${missed.length > 0 ? `; missed: ${missed.map((row) => row[0]).join("; ")}` : ""}`,
    },
    {
      what: `D${n} precision ≥ 0.9`,
      met: (s.precision ?? 0) >= 0.9,
      detail: `${share(s.precision)}: ${s.falsePositives} false alarm(s) in 7 days, ${s.hardNegativesFlagged} of ${s.hardNegatives} hard negatives flagged`,
    },
  ];
};
const lostOrDuplicated =
  l.lost + l.duplicated + d.lost + d.duplicated + stuffing.answered.lost + stuffing.answered.duplicated;
printAims([
  ...scoreAims(1, lineage.report),
  ...lineage.report.aims,
  ...scoreAims(2, novelty),
  ...scoreAims(3, denied.report),
  ...scoreAims(4, stuffing.report),
  {
    what: "events lost or duplicated = 0",
    met: lostOrDuplicated === 0,
    detail: `${lostOrDuplicated} over all workloads`,
  },
]);
const info = (n: number, r: DetectorReport): string => {
  const s = r.methods[0]?.score;
  return `D${n} recall ${share(s?.recall)}, precision ${share(s?.precision)}`;
};
console.log(`no aim set by issue 15: ${info(5, costDrift)}; ${info(6, outliers)}`);
console.log(
  `\nrecall counts the issue's ladder rungs (below-policy rungs included); blind spots and the adaptive attacker are shown, not counted. Ran in ${((performance.now() - started) / 1000).toFixed(1)} s; the same seed prints the same tables.`,
);
