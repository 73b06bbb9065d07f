import { userInfo } from "node:os";
import { replayArchive } from "../../admin/index.ts";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { parseInstant } from "../parse-instant.ts";
import { usageError } from "../usage-error.ts";

export interface ReplayOptions extends OperatorNatsFlags {
  app: string;
  since: string;
  until?: string;
  type?: string;
  function?: string;
}

/**
 * `palisade replay --since T [--until T] [--type X] [--function F]`: delivers archived events again,
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
      progress,
    ),
  );
  for (const s of result.skipped) process.stderr.write(`\nskipped event at position ${s.seq}: ${s.error}`);
  for (const r of result.refused) process.stderr.write(`\nrefused ${r.eventId} → ${r.target}: ${r.reason}`);
  const { events, replayed } = result;
  const refused = result.refused.length;
  process.stderr.write("\n");
  auditCommand(opts.app, {
    kind: AUDIT_KIND.replayed,
    outcome: "allowed",
    details: {
      from: "archive",
      count: replayed,
      refused,
      since: opts.since,
      ...(opts.until ? { until: opts.until } : {}),
    },
  });
  process.stdout.write(
    `replayed ${replayed} deliveries of ${events} events${refused > 0 ? `; ${refused} refused (dead-lettered)` : ""}\n`,
  );
  return EXIT_OK;
}

function progress(done: number, total: number): void {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  process.stderr.write(`\rreplaying [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`);
}
