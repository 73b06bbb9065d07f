import type { Finding, Severity } from "./finding.ts";
import type { CheckReport } from "./run-checks.ts";

/** `file:line path`, the path being what a waiver names (left out when it is just the file). */
export function formatLocation(f: Finding): string {
  const { file, line, path } = f.location;
  const where = line === undefined ? file : `${file}:${line}`;
  return path === file ? where : `${where} ${path}`;
}

/** The report as people read it in a terminal: findings by severity, waivers, skipped rules, a summary. */
export function formatCheckText(report: CheckReport): string {
  const out = [`palisade check: app "${report.app}" (${report.dir})`, ""];
  for (const f of report.findings) {
    const label = f.waived ? "waived" : f.severity;
    out.push(`${label.toUpperCase().padEnd(7)}${f.rule}  ${f.title}`);
    out.push(`       at ${formatLocation(f)}`);
    out.push(`       ${f.message}`);
    out.push(`       fix: ${f.fix}`);
    if (f.waived) out.push(`       waived until ${f.waived.expires}: ${f.waived.reason}`);
    out.push("");
  }
  if (report.waivers.length > 0) {
    out.push("Waivers:");
    for (const w of report.waivers)
      out.push(`  ${w.rule} ${w.path} until ${w.expires} (${w.status}): ${w.reason}`);
    out.push("");
  }
  for (const r of report.rules.filter((x) => x.note !== undefined))
    out.push(`${r.status === "skipped" ? "Skipped" : "Note"} ${r.id} (${r.title}): ${r.note}`);
  out.push(summary(report));
  return `${out.join("\n")}\n`;
}

function summary(report: CheckReport): string {
  const open = report.findings.filter((f) => !f.waived);
  const count = (s: Severity) => open.filter((f) => f.severity === s).length;
  const waived = report.findings.length - open.length;
  const passed = report.rules.filter((r) => r.status === "passed").length;
  const skipped = report.rules.filter((r) => r.status === "skipped").length;
  const rules = `${passed} of ${report.rules.length} rules passed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
  const found =
    open.length === 0
      ? "No findings"
      : `${open.length} finding(s): ${count("high")} high, ${count("medium")} medium, ${count("low")} low`;
  return `${found}${waived > 0 ? `, ${waived} waived` : ""}; ${rules}.`;
}
