import type { Finding, Severity } from "./finding.ts";
import type { CheckReport } from "./run-checks.ts";

/** SARIF 2.1.0, the format GitHub code scanning uploads (github/codeql-action/upload-sarif). */
export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  high: "error",
  medium: "warning",
  low: "note",
};
// GitHub ranks security alerts by this score: >= 7.0 is high, >= 4.0 medium, below that low.
const SCORE: Record<Severity, string> = { high: "8.0", medium: "5.0", low: "2.0" };

/**
 * The report as a SARIF log: one run whose driver lists every rule, one result per finding with its
 * location relative to the app directory (upload with that directory as the checkout root, or set
 * `originalUriBaseIds.APPROOT`), waived findings as suppressed, skipped rules as notifications.
 */
export function formatSarif(report: CheckReport, version = "0.1.0"): object {
  const ids = report.rules.map((r) => r.id);
  return {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "palisade",
            version,
            informationUri: "https://palisade.dev/docs/check",
            rules: report.rules.map((r) => ({
              id: r.id,
              name: r.title.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) =>
                (c ?? "").toUpperCase(),
              ),
              shortDescription: { text: r.title },
              fullDescription: { text: r.help },
              help: { text: r.help },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { tags: ["security"], "security-severity": SCORE[r.severity], precision: "high" },
            })),
          },
        },
        originalUriBaseIds: { APPROOT: { uri: `${pathToUri(report.dir)}/` } },
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: report.rules
              .filter((r) => r.status === "skipped")
              .map((r) => ({
                level: "warning",
                message: { text: `${r.id} skipped: ${r.note ?? "not run"}` },
                descriptor: { id: r.id, index: ids.indexOf(r.id) },
              })),
          },
        ],
        results: report.findings.map((f) => result(f, ids.indexOf(f.rule))),
        // Every waiver of the manifest, with what became of it (active, expired, unused).
        properties: {
          waivers: report.waivers.map((w) => ({
            rule: w.rule,
            path: w.path,
            reason: w.reason,
            expires: w.expires,
            status: w.status,
          })),
        },
      },
    ],
  };
}

function result(f: Finding, ruleIndex: number): object {
  return {
    ruleId: f.rule,
    ruleIndex,
    level: LEVEL[f.severity],
    message: { text: `${f.message}. Fix: ${f.fix}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: encodeURI(f.location.file), uriBaseId: "APPROOT" },
          region: { startLine: f.location.line ?? 1 },
        },
        logicalLocations: [{ fullyQualifiedName: f.location.path }],
      },
    ],
    ...(f.waived
      ? {
          suppressions: [
            {
              kind: "inSource",
              status: "accepted",
              justification: `${f.waived.reason} (until ${f.waived.expires})`,
            },
          ],
        }
      : {}),
  };
}

function pathToUri(dir: string): string {
  return `file://${encodeURI(dir.split("\\").join("/"))}`;
}
