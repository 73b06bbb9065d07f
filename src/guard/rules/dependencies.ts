import { join } from "node:path";
import type { CheckContext } from "../check-context.ts";
import type { RuleOutcome } from "../finding.ts";
import type { AuditSeverity, Vulnerability } from "../npm-audit.ts";

/** PAL060–PAL061: known vulnerabilities in the app's npm dependencies (npm audit). */
export const DEPENDENCY_RULES = {
  PAL060: (ctx: CheckContext) => auditHits(ctx, ["critical", "high"]),
  PAL061: (ctx: CheckContext) => auditHits(ctx, ["moderate", "low"]),
};

function auditHits(ctx: CheckContext, severities: readonly AuditSeverity[]): RuleOutcome {
  const audit = ctx.audit;
  if (audit.status === "skipped") return { skipped: audit.reason };
  if (audit.status === "no-dependencies") return { hits: [], note: "no dependencies" };
  const lockfile = join(ctx.app.dir, "package-lock.json");
  return audit.vulnerabilities
    .filter((v) => severities.includes(v.severity))
    .map((v) => ({
      message: `Dependency "${v.name}" has a known ${v.severity} vulnerability: ${summary(v)}`,
      fix: v.fix,
      location: ctx.inFile(lockfile, ["packages", `node_modules/${v.name}`]),
    }));
}

function summary(v: Vulnerability): string {
  const own = v.advisories.map((a) => (a.url === "" ? a.title : `${a.title} (${a.url})`));
  const through = v.via.length === 0 ? [] : [`through ${v.via.join(", ")}`];
  return [...own, ...through].join("; ");
}
