import { join, resolve } from "node:path";
import { USAGE_FILE } from "../../app-files.ts";
import { type AppModel, type EgressRule, type FunctionSpec, loadApp } from "../../manifest/index.ts";
import { openUsageStore, type UsageRow } from "../../security/index.ts";
import { EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, openNatsTarget } from "../nats-target.ts";

/** One grant of a function and how often it was used. */
export interface GrantUse {
  kind: "emit" | "secret" | "egress" | "kv";
  grant: string;
  uses: number;
}

export interface FunctionPermissions {
  fn: string;
  granted: GrantUse[];
  /** Grants never used (candidates for removal). */
  unused: string[];
  /** Calls that were refused: what was asked, how often, and the last reason. */
  denied: { kind: string; target: string; count: number; reason: string | null }[];
}

/**
 * `palisade permissions report [--json] [--nats <url>]`: for each function, what the manifest grants
 * next to what it actually used (recorded by the capability host in `.palisade/usage.db`, or with
 * `--nats` by every node in the deployment's usage bucket), grants never used, and refused calls.
 */
export async function runPermissionsReport(
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  const app = loadApp(resolve(opts.app));
  const rows = await usageRows(app, opts);
  const report = [...app.functions.values()].map((fn) => permissionsOf(fn, rows));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return EXIT_OK;
  }
  for (const f of report) {
    process.stdout.write(`${f.fn}\n`);
    if (f.granted.length === 0) process.stdout.write("  grants: none\n");
    for (const g of f.granted)
      process.stdout.write(
        `  ${g.kind.padEnd(6)} ${g.grant.padEnd(40)} ${g.uses === 0 ? "never used" : `used ${g.uses}×`}\n`,
      );
    for (const d of f.denied)
      process.stdout.write(
        `  denied ${d.kind} ${d.target} ${d.count}×${d.reason === null ? "" : `: ${d.reason}`}\n`,
      );
  }
  return EXIT_OK;
}

/** Every row of capability use: the deployment's on NATS, else the app's file. */
export async function usageRows(app: AppModel, flags: OperatorNatsFlags): Promise<UsageRow[]> {
  const target = await openNatsTarget(app, flags);
  const usage =
    target === undefined ? openUsageStore(join(app.dataDir, USAGE_FILE)) : await target.openUsage();
  try {
    return await usage.rows();
  } finally {
    await usage.close();
    await target?.close();
  }
}

export function permissionsOf(fn: FunctionSpec, rows: readonly UsageRow[]): FunctionPermissions {
  const mine = rows.filter((r) => r.fn === fn.name);
  const uses = (kinds: readonly string[], target: string) =>
    mine
      .filter((r) => r.outcome === "used" && kinds.includes(r.kind) && r.target === target)
      .reduce((n, r) => n + r.count, 0);
  const granted: GrantUse[] = [
    ...fn.emit.map((t) => ({ kind: "emit" as const, grant: t, uses: uses(["emit"], t) })),
    ...fn.secrets.map((s) => ({ kind: "secret" as const, grant: s, uses: uses(["secret"], s) })),
    ...fn.egress.map((r) => ({
      kind: "egress" as const,
      grant: r.entry,
      uses: uses(["egress"], egressTarget(r)),
    })),
    ...Object.entries(fn.kv).map(([ns, mode]) => ({
      kind: "kv" as const,
      grant: `${ns} (${mode})`,
      uses: uses(["kv-read", "kv-write"], ns),
    })),
  ];
  return {
    fn: fn.name,
    granted,
    unused: granted.filter((g) => g.uses === 0).map((g) => `${g.kind} ${g.grant}`),
    denied: mine
      .filter((r) => r.outcome === "denied")
      .map((r) => ({ kind: r.kind, target: r.target, count: r.count, reason: r.lastReason })),
  };
}

/** The usage target an egress grant's calls are recorded under: `scheme://host:port`. */
export function egressTarget(rule: EgressRule): string {
  return `${rule.scheme}://${rule.ip && rule.host.includes(":") ? `[${rule.host}]` : rule.host}:${rule.port}`;
}
