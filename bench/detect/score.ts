/**
 * Range-based scoring, simplified from Tatbul et al. 2018 ("Precision and Recall for Time Series"):
 * ground truth is a set of ranges (an injected attack or hard negative: when, and which scopes it
 * touches); a detector's output is points (findings: a scope and a time). Recall uses the existence
 * reward only: an attack range is detected when at least one finding of one of its scopes falls in
 * it (no overlap size, position or cardinality terms). Precision is per alarm: findings of one scope
 * less than MERGE_MS apart are one alarm (a predicted range; a window baseline re-fires every
 * window), true when one of its findings falls in a malicious range (attack, blind spot or adaptive)
 * of its scope. Delay is the first true finding's time minus the range's start.
 */

import type { Finding } from "../../src/signals/index.ts";

/**
 * `attack`: a rung of the issue's ladder (counted in recall); `blind`: an attack outside what the
 * detector can see (shown, not counted); `adaptive`: the attacker that stays at 90 % of the
 * threshold (shown, not counted); `benign`: a hard negative (a finding in it is a false positive).
 */
export type RangeKind = "attack" | "blind" | "adaptive" | "benign";

export interface Range {
  readonly rung: string;
  readonly kind: RangeKind;
  /** Scopes as `fn:<name>`, `root:<principal>/<id>` or `ip:<address>`. */
  readonly scopes: Set<string>;
  readonly start: number;
  end: number;
  /** The rung is below the detector's policy threshold by construction. */
  readonly belowPolicy?: boolean;
}

export interface Hit {
  readonly scope: string;
  readonly at: number;
}

/** A detector's findings as hits, each on its scope named `<prefix>:<name>` (`fn:charge`, `ip:10.0.0.7`). */
export function findingHits(findings: readonly Finding[], prefix: "fn" | "ip" | "root"): Hit[] {
  return findings.map((f) => ({ scope: `${prefix}:${f.scope.name}`, at: f.at }));
}

export interface Score {
  precision: number | undefined;
  recall: number | undefined;
  /** Recall over the rungs at or above the policy threshold. */
  recallAtPolicy: number | undefined;
  /** Alarms (findings merged per scope, see MERGE_MS). */
  findings: number;
  falsePositives: number;
  fpPerDay: number;
  /** Delays (ms) of the detected attack ranges. */
  delays: number[];
  hardNegatives: number;
  hardNegativesFlagged: number;
  /** First finding inside each range of its scope (absent: not detected). */
  first: Map<Range, number>;
  /** False alarms per scope (without what a hit names beyond it). */
  falseByScope: Map<string, number>;
}

/**
 * A hit may name more than its scope (`fn:mailer egress:https://x:443`, a finding about one target):
 * it counts for an attack only when the range names that too, and flags a hard negative of its scope.
 */
const inside = (r: Range, h: Hit): boolean =>
  h.at >= r.start &&
  h.at <= r.end &&
  (r.scopes.has(h.scope) || (r.kind === "benign" && r.scopes.has(h.scope.split(" ")[0] ?? "")));

/** Findings of one scope closer than this to the one before are one alarm (one predicted range). */
export const MERGE_MS = 120_000;

export function scoreHits(ranges: readonly Range[], hits: readonly Hit[], days: number): Score {
  const first = new Map<Range, number>();
  const byStart = [...ranges].sort((a, b) => a.start - b.start);
  const last = new Map<string, { at: number; malicious: boolean }>();
  const alarms: { malicious: boolean; scope: string }[] = [];
  for (const h of [...hits].sort((a, b) => a.at - b.at)) {
    let malicious = false;
    for (const r of byStart) {
      if (r.start > h.at) break;
      if (!inside(r, h)) continue;
      if (r.kind !== "benign") malicious = true;
      if (!first.has(r)) first.set(r, h.at);
    }
    const prev = last.get(h.scope);
    if (prev === undefined || h.at - prev.at > MERGE_MS) {
      const alarm = { at: h.at, malicious, scope: h.scope.split(" ")[0] ?? h.scope };
      alarms.push(alarm);
      last.set(h.scope, alarm);
    } else {
      prev.at = h.at;
      prev.malicious ||= malicious;
    }
  }
  const falsePositives = alarms.filter((a) => !a.malicious).length;
  const falseByScope = new Map<string, number>();
  for (const a of alarms) if (!a.malicious) falseByScope.set(a.scope, (falseByScope.get(a.scope) ?? 0) + 1);
  const attacks = ranges.filter((r) => r.kind === "attack");
  const atPolicy = attacks.filter((r) => r.belowPolicy !== true);
  const benign = ranges.filter((r) => r.kind === "benign");
  const share = (rs: readonly Range[]): number | undefined =>
    rs.length === 0 ? undefined : rs.filter((r) => first.has(r)).length / rs.length;
  return {
    precision: alarms.length === 0 ? undefined : (alarms.length - falsePositives) / alarms.length,
    recall: share(attacks),
    recallAtPolicy: share(atPolicy),
    findings: alarms.length,
    falsePositives,
    fpPerDay: falsePositives / days,
    delays: attacks.flatMap((r) => {
      const at = first.get(r);
      return at === undefined ? [] : [at - r.start];
    }),
    hardNegatives: benign.length,
    hardNegativesFlagged: benign.filter((r) => first.has(r)).length,
    first,
    falseByScope,
  };
}

/** `fn:mailer 3, fn:report 1`: where a method's false alarms were, most first. */
export function falseAlarms(s: Score): string {
  const list = [...s.falseByScope].sort((a, b) => b[1] - a[1]);
  return list.length === 0 ? "none" : list.map(([scope, n]) => `${scope} ${n}`).join(", ");
}

/** The median of `xs` (undefined when empty). */
export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** A share as `0.95` (— when undefined). */
export function share(x: number | undefined): string {
  return x === undefined ? "—" : x.toFixed(2);
}

/** A fraction as a percentage: `0.63 %`. */
export function percent(x: number | undefined): string {
  if (x === undefined) return "—";
  const p = x * 100;
  return `${p >= 10 ? p.toFixed(0) : p >= 0.1 ? p.toFixed(2) : p.toFixed(3)} %`;
}

/** A duration: `40 ms`, `2.1 s`, `3.5 min`, `2.0 h`. */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A ladder cell: `2/3, 8.1 s` (ranges detected, and the worst delay among them). */
export function detectedCell(s: Score, rs: readonly Range[]): string {
  const delays = rs.flatMap((r) => {
    const at = s.first.get(r);
    return at === undefined ? [] : [at - r.start];
  });
  return `${delays.length}/${rs.length}${delays.length > 0 ? `, ${duration(Math.max(...delays))}` : ""}`;
}
