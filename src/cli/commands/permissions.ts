import { join, resolve } from "node:path";
import { permissionsOf } from "../../admin/index.ts";
import { USAGE_FILE } from "../../app-files.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import { openUsageStore, type UsageRow } from "../../security/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, openNatsTarget } from "../nats-target.ts";

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
