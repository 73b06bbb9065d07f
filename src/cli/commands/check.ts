import { resolve } from "node:path";
import { formatCheckText, formatSarif, runChecks, unwaivedHigh } from "../../guard/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";

export interface CheckCommandOptions {
  format: "text" | "json" | "sarif";
  /** Address the gateway would listen on (PAL070 checks TLS off loopback). */
  host: string;
  /** Skip the npm audit (its rules report skipped). */
  offline?: boolean;
}

/**
 * `palisade check [dir] [--format text|json|sarif]`: runs every guardrail rule over the app and
 * prints the report. Exit 1 when an unwaived high-severity finding exists, 0 otherwise; a manifest
 * that does not load is a usage error (2).
 */
export async function runCheck(dir: string, opts: CheckCommandOptions): Promise<number> {
  const app = loadApp(resolve(dir));
  const report = await runChecks(app, { host: opts.host, ...(opts.offline ? { offline: true } : {}) });
  if (opts.format === "json") process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (opts.format === "sarif")
    process.stdout.write(
      `${JSON.stringify(formatSarif(report, process.env.npm_package_version), null, 2)}\n`,
    );
  else process.stdout.write(formatCheckText(report));
  return unwaivedHigh(report).length > 0 ? EXIT_FAILURE : EXIT_OK;
}
