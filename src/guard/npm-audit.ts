/**
 * Known vulnerabilities in an app's npm dependencies, from `npm audit --json --package-lock-only`
 * run in the app directory against its package-lock.json. An app with no dependencies needs no
 * audit; when the audit cannot run (no registry, a timeout, no npm) the outcome says `skipped` and
 * why, so a report never claims a pass it could not check.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type AuditSeverity = "critical" | "high" | "moderate" | "low" | "info";

/** One vulnerable package, as npm audit reports it. */
export interface Vulnerability {
  readonly name: string;
  readonly severity: AuditSeverity;
  /** Advisories on the package itself. */
  readonly advisories: readonly { readonly title: string; readonly url: string }[];
  /** Vulnerable dependencies it is affected through. */
  readonly via: readonly string[];
  readonly fix: string;
}

export type AuditOutcome =
  | { readonly status: "audited"; readonly vulnerabilities: readonly Vulnerability[] }
  | { readonly status: "no-dependencies" }
  | { readonly status: "skipped"; readonly reason: string };

/** Runs the audit in a directory: npm's JSON output, or why there is none. */
export type AuditRunner = (appDir: string) => Promise<{ stdout: string } | { error: string }>;

/** How long the audit may take before it counts as unreachable. */
export const AUDIT_TIMEOUT_MS = 30_000;

/** The real runner: `npm audit --json --package-lock-only` in `appDir`. */
export const runNpmAudit: AuditRunner = (appDir) =>
  new Promise((done) => {
    const args = ["audit", "--json", "--package-lock-only"];
    const options = { cwd: appDir, timeout: AUDIT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 };
    execFile("npm", args, options, (err, stdout) => {
      // npm audit exits 1 when it finds vulnerabilities; its JSON is on stdout either way.
      if (stdout.trim() !== "") done({ stdout });
      else if (err === null) done({ error: "npm audit printed nothing" });
      else if ((err as NodeJS.ErrnoException).code === "ENOENT") done({ error: "npm is not installed" });
      else if (err.killed) done({ error: `npm audit did not finish within ${AUDIT_TIMEOUT_MS / 1000} s` });
      else done({ error: err.message.split("\n")[0] ?? "npm audit failed" });
    });
  });

/** Audits the dependencies locked in `<appDir>/package-lock.json` with `runner`. */
export async function auditDependencies(
  appDir: string,
  runner: AuditRunner = runNpmAudit,
): Promise<AuditOutcome> {
  const lock = join(appDir, "package-lock.json");
  if (!existsSync(lock)) {
    if (!declaresDependencies(join(appDir, "package.json"))) return { status: "no-dependencies" };
    return {
      status: "skipped",
      reason: "package.json has dependencies but there is no package-lock.json to audit; run npm install",
    };
  }
  if (!locksDependencies(lock)) return { status: "no-dependencies" };
  const result = await runner(appDir);
  if ("error" in result) return { status: "skipped", reason: result.error };
  const parsed = parseAuditReport(result.stdout);
  return typeof parsed === "string"
    ? { status: "skipped", reason: parsed }
    : { status: "audited", vulnerabilities: parsed };
}

/** The vulnerable packages of npm audit's JSON (report version 2), or why it holds none. */
export function parseAuditReport(text: string): Vulnerability[] | string {
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return "npm audit did not print JSON";
  }
  if (typeof report.vulnerabilities === "object" && report.vulnerabilities !== null)
    return Object.values(report.vulnerabilities as Record<string, RawVulnerability>).map(toVulnerability);
  const error = report.error as { summary?: string; code?: string } | undefined;
  const reason = (typeof report.message === "string" && report.message) || error?.summary || error?.code;
  return `the audit could not reach the registry: ${reason || "npm audit reported an error"}`;
}

interface RawVulnerability {
  name: string;
  severity: AuditSeverity;
  via: (string | { title?: string; url?: string; name?: string })[];
  fixAvailable: boolean | { name: string; version: string; isSemVerMajor?: boolean };
}

function toVulnerability(raw: RawVulnerability): Vulnerability {
  const advisories = raw.via
    .filter((v) => typeof v === "object")
    .map((v) => ({ title: v.title ?? "advisory", url: v.url ?? "" }));
  const via = raw.via.filter((v) => typeof v === "string");
  return { name: raw.name, severity: raw.severity, advisories, via, fix: fixOf(raw) };
}

function fixOf(raw: RawVulnerability): string {
  const fix = raw.fixAvailable;
  if (fix === true) return `run "npm audit fix" in the app directory to update ${raw.name}`;
  if (fix === false)
    return `no fixed version is available: remove or replace ${raw.name}, or waive this finding with a reason and an expiry`;
  return fix.isSemVerMajor
    ? `update ${fix.name} to ${fix.version}, a new major version ("npm audit fix --force"); check its changelog`
    : `update ${fix.name} to ${fix.version} ("npm audit fix")`;
}

function declaresDependencies(packageJson: string): boolean {
  if (!existsSync(packageJson)) return false;
  try {
    const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as { dependencies?: object };
    return Object.keys(pkg.dependencies ?? {}).length > 0;
  } catch {
    return true;
  }
}

function locksDependencies(lockfile: string): boolean {
  try {
    const lock = JSON.parse(readFileSync(lockfile, "utf8")) as { packages?: object; dependencies?: object };
    return (
      Object.keys(lock.packages ?? {}).some((k) => k !== "") ||
      Object.keys(lock.dependencies ?? {}).length > 0
    );
  } catch {
    return true;
  }
}
