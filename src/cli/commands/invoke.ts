import { resolve } from "node:path";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import type { PlatformOps } from "../platform-ops.ts";
import { parseData } from "./send.ts";

/**
 * `palisade invoke <function> <json|@file> [--type T]`: runs the function once in its sandbox with
 * the manifest's grants, prints what it emitted (validated, not published), what it logged and what
 * it returned. Exit 1 when the handler fails.
 */
export async function runInvoke(
  fn: string,
  input: string,
  opts: { app: string; type?: string; json?: boolean },
  ops: PlatformOps,
): Promise<number> {
  const data = parseData(input, "invoke");
  const report = await ops.invokeOnce(resolve(opts.app), fn, opts.type, data);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ...report, event: { id: report.event.id, type: report.event.type } })}\n`,
    );
    return report.error === undefined ? EXIT_OK : EXIT_FAILURE;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`invoked ${fn} with ${report.event.type} ${report.event.id}`);
  for (const l of report.logs)
    out(
      `  log ${l.level}: ${l.message}${Object.keys(l.fields).length > 0 ? ` ${JSON.stringify(l.fields)}` : ""}`,
    );
  for (const e of report.emits) out(`  emit ${e.type} ${JSON.stringify(e.data)} (not published)`);
  if (report.error !== undefined) {
    process.stderr.write(`palisade: ${report.error.code}: ${report.error.message}\n`);
    return EXIT_FAILURE;
  }
  out(`  result ${report.result === undefined ? "(none)" : JSON.stringify(report.result)}`);
  return EXIT_OK;
}
