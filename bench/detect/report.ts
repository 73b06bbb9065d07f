/** What each detector's section reports, and how it is printed (tables as `npm run bench` prints them). */
import type { Finding } from "../../src/signals/index.ts";
import { printTable } from "../stats.ts";
import type { WindowRule } from "./baselines.ts";
import { duration, falseAlarms, median, type Range, type RangeKind, type Score, share } from "./score.ts";

/** One detector or baseline, scored on the same traffic. */
export interface MethodRow {
  readonly method: string;
  readonly score: Score;
  /** What got through before the response (detector-specific unit), or — */
  readonly leaked: string;
  /** Benign work held or refused by the response, or — when the response is not simulated. */
  readonly collateral: string;
}

/** What a detector's run leaves to score: its findings, and the window baselines fed the same signals. */
export interface DetectorRun {
  readonly findings: readonly Finding[];
  readonly fixed: WindowRule;
  readonly ewma: WindowRule;
}

/** A window baseline's row: its response is not simulated, so nothing leaked or held is shown. */
export function baselineRow(rule: WindowRule, score: Score): MethodRow {
  return { method: rule.name, score, leaked: "—", collateral: "—" };
}

export interface Aim {
  readonly what: string;
  readonly met: boolean;
  readonly detail: string;
}

export interface DetectorReport {
  readonly title: string;
  readonly methods: readonly MethodRow[];
  readonly ladder: { readonly title: string; readonly header: readonly string[]; readonly rows: string[][] };
  readonly notes: readonly string[];
  readonly aims: readonly Aim[];
}

export function printDetector(r: DetectorReport): void {
  printTable(
    r.title,
    [
      "method",
      "alarms",
      "precision",
      "recall",
      "recall ≥ policy",
      "delay p50",
      "delay max",
      "FP/day",
      "hard neg. flagged",
      "leaked before response",
      "collateral",
    ],
    r.methods.map((m) => [
      m.method,
      String(m.score.findings),
      share(m.score.precision),
      share(m.score.recall),
      share(m.score.recallAtPolicy),
      duration(median(m.score.delays)),
      duration(m.score.delays.length === 0 ? undefined : Math.max(...m.score.delays)),
      m.score.fpPerDay.toFixed(2),
      `${m.score.hardNegativesFlagged}/${m.score.hardNegatives}`,
      m.leaked,
      m.collateral,
    ]),
  );
  const first = r.methods[0];
  if (first !== undefined)
    console.log(`false alarms of ${first.method.split(":")[0]}: ${falseAlarms(first.score)}`);
  printTable(r.ladder.title, r.ladder.header, r.ladder.rows);
  for (const note of r.notes) console.log(note);
}

/**
 * A ladder's rows, one per rung: its label, tagged when it is a blind spot, the adaptive attacker or
 * below the policy (on how many of its ranges, when not on all), then `cells` of its ranges.
 */
export function ladderRows(
  rungs: readonly { readonly label: string; readonly kind: RangeKind }[],
  ranges: readonly Range[],
  cells: (rs: readonly Range[]) => string[],
): string[][] {
  return rungs.map((rung) => {
    const rs = ranges.filter((r) => r.rung === rung.label);
    return [`${rung.label}${rungTag(rung.kind, rs)}`, ...cells(rs)];
  });
}

function rungTag(kind: RangeKind, rs: readonly Range[]): string {
  if (kind === "blind") return " (blind spot)";
  if (kind === "adaptive") return " (adaptive)";
  const below = rs.filter((r) => r.belowPolicy === true).length;
  if (below === 0) return "";
  return below === rs.length ? " (below policy)" : ` (below policy on ${below}/${rs.length})`;
}

/** `AIM MISSED` rows stand out; met ones are plain. */
export function printAims(aims: readonly Aim[]): void {
  const width = Math.max(...aims.map((a) => a.what.length));
  console.log("\nSummary: the aims of issue 15");
  for (const a of aims)
    console.log(`${(a.met ? "met" : "AIM MISSED").padEnd(10)}  ${a.what.padEnd(width)}  ${a.detail}`);
}
