import type { AppModel } from "../manifest/index.ts";
import { applyWaivers, WAIVER_RULES, type WaiverStatus } from "./apply-waivers.ts";
import { type CheckContext, type CheckOptions, createCheckContext } from "./check-context.ts";
import type { Finding, Hit, RuleOutcome, Severity } from "./finding.ts";
import { RULES, type RuleInfo } from "./rule-catalogue.ts";
import { RULE_CHECKS } from "./rules/index.ts";

/** `failed`: unwaived findings; `waived`: findings, every one waived; `skipped`: could not run. */
export type RuleStatus = "passed" | "failed" | "waived" | "skipped";

export interface RuleResult extends RuleInfo {
  readonly status: RuleStatus;
  /** Why it was skipped, or how it passed when that is worth saying ("no dependencies"). */
  readonly note?: string;
}

/** The outcome of `palisade check`: every finding (waived ones marked), every rule's status, every waiver. */
export interface CheckReport {
  readonly app: string;
  readonly dir: string;
  readonly findings: readonly Finding[];
  readonly rules: readonly RuleResult[];
  readonly waivers: readonly WaiverStatus[];
}

/** Runs every rule of the catalogue over `app` (its manifest, schemas, function sources and lockfile). */
export async function runChecks(app: AppModel, options: CheckOptions = {}): Promise<CheckReport> {
  return evaluateChecks(await createCheckContext(app, options));
}

/** Runs every rule on a prepared context and applies the manifest's waivers. */
export function evaluateChecks(ctx: CheckContext): CheckReport {
  const outcomes = new Map<string, { hits: readonly Hit[]; note?: string; skipped?: string }>();
  for (const rule of RULES) {
    const check = RULE_CHECKS[rule.id];
    if (check !== undefined) outcomes.set(rule.id, normalize(check(ctx)));
  }
  const raw = [...outcomes].flatMap(([id, o]) => o.hits.map((h) => toFinding(id, h)));
  const waived = applyWaivers(ctx, raw);
  for (const id of WAIVER_RULES) outcomes.set(id, { hits: waived.hits[id] ?? [] });
  const findings = [
    ...waived.findings,
    ...WAIVER_RULES.flatMap((id) => (waived.hits[id] ?? []).map((h) => toFinding(id, h))),
  ];
  const rules = RULES.map((info): RuleResult => {
    const o = outcomes.get(info.id) ?? { hits: [] };
    const mine = findings.filter((f) => f.rule === info.id);
    if (o.skipped !== undefined) return { ...info, status: "skipped", note: o.skipped };
    const status: RuleStatus =
      mine.length === 0 ? "passed" : mine.every((f) => f.waived) ? "waived" : "failed";
    return o.note === undefined ? { ...info, status } : { ...info, status, note: o.note };
  });
  return {
    app: ctx.app.name,
    dir: ctx.app.dir,
    findings: findings.sort(byImportance),
    rules,
    waivers: waived.waivers,
  };
}

/** The findings that stop `palisade start` and `build`: high severity and not waived. */
export function unwaivedHigh(report: CheckReport): Finding[] {
  return report.findings.filter((f) => f.severity === "high" && f.waived === undefined);
}

function normalize(outcome: RuleOutcome): { hits: readonly Hit[]; note?: string; skipped?: string } {
  if ("skipped" in outcome) return { hits: [], skipped: outcome.skipped };
  if ("hits" in outcome) return { hits: outcome.hits, note: outcome.note };
  return { hits: outcome };
}

function toFinding(id: string, hit: Hit): Finding {
  const info = RULES.find((r) => r.id === id) as RuleInfo;
  return { rule: id, severity: info.severity, title: info.title, ...hit };
}

const RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
function byImportance(a: Finding, b: Finding): number {
  return (
    RANK[a.severity] - RANK[b.severity] ||
    a.rule.localeCompare(b.rule) ||
    a.location.file.localeCompare(b.location.file) ||
    (a.location.line ?? 0) - (b.location.line ?? 0)
  );
}
