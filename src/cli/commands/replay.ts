import { userInfo } from "node:os";
import { type ArchiveReplayResult, replayArchive } from "../../admin/index.ts";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { parseInstant } from "../parse-instant.ts";
import { createProgress } from "../progress.ts";
import { usageError } from "../usage-error.ts";

export interface ReplayOptions extends OperatorNatsFlags {
  app: string;
  since: string;
  until?: string;
  type?: string;
  function?: string;
  json?: boolean;
}

/**
 * `palisade replay --since T [--until T] [--type X] [--function F] [--json]`: delivers archived events again,
 * with their original ids and traceparent, marked as replays (by whom, when). Each (event, function)
 * is checked against the app as it is now; one that no longer passes is dead-lettered with the reason.
 */
export async function runReplay(opts: ReplayOptions): Promise<number> {
  const now = Date.now();
  const since = parseInstant(opts.since, now, "--since");
  const until = opts.until === undefined ? now : parseInstant(opts.until, now, "--until");
  const app = loadApp(opts.app);
  if (opts.function !== undefined && !app.functions.has(opts.function)) {
    throw usageError(
      `No function "${opts.function}"; functions are: ${[...app.functions.keys()].join(", ")}`,
    );
  }
  const replay = { by: `cli:${userInfo().username}`, at: now };
  const progress = createProgress("replaying");
  const result = await withOperatorStore(app, opts, (store) =>
    replayArchive(
      app,
      store,
      {
        since,
        until,
        ...(opts.type === undefined ? {} : { type: opts.type }),
        ...(opts.function === undefined ? {} : { function: opts.function }),
      },
      replay,
      (done, total) => progress.update(done, total),
    ),
  ).finally(() => progress.done());
  auditCommand(opts.app, {
    kind: AUDIT_KIND.replayed,
    outcome: "allowed",
    details: {
      from: "archive",
      count: result.replayed,
      refused: result.refused.length,
      since: opts.since,
      ...(opts.until ? { until: opts.until } : {}),
    },
  });
  return printReplay(result, opts.json === true);
}

/**
 * Prints a replay's result (the local command and `--url` alike): the skipped and refused on standard
 * error and the counts on standard output, or the whole result as JSON. Returns the exit code.
 */
export function printReplay(result: ArchiveReplayResult, json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return EXIT_OK;
  }
  for (const s of result.skipped) process.stderr.write(`skipped event at position ${s.seq}: ${s.error}\n`);
  for (const r of result.refused) process.stderr.write(`refused ${r.eventId} → ${r.target}: ${r.reason}\n`);
  const refused = result.refused.length;
  process.stdout.write(
    `replayed ${result.replayed} deliveries of ${result.events} events${refused > 0 ? `; ${refused} refused (dead-lettered)` : ""}\n`,
  );
  return EXIT_OK;
}
