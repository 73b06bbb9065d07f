import { userInfo } from "node:os";
import { dlqReplayDetails, replayDeadLetters } from "../../admin/index.ts";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import type { DeadLetter } from "../../bus/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";

/**
 * `palisade dlq list`: dead-lettered deliveries of the app, newest first, read from its store (the
 * app's file, or the NATS deployment `--nats` names).
 */
export async function runDlqList(
  opts: { app: string; json?: boolean; limit: number } & OperatorNatsFlags,
): Promise<number> {
  return withOperatorStore(loadApp(opts.app), opts, async (store) => {
    printDeadLetters(await store.queue.deadLetters(opts.limit), opts.json === true);
    return EXIT_OK;
  });
}

/** Prints dead letters, one line each (or a JSON array). */
export function printDeadLetters(rows: readonly DeadLetter[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  if (rows.length === 0) process.stdout.write("the dead-letter queue is empty\n");
  for (const r of rows) {
    const when = new Date(r.at).toISOString();
    process.stdout.write(
      `${when}  ${r.target}  ${r.type}  ${r.eventId}  ${r.reason}  after ${r.attempts} attempt(s): ${r.error}\n`,
    );
  }
}

/**
 * `palisade dlq replay [eventId] [--all] [--function F]`: moves dead letters back to pending. Not
 * a back door: each is checked against the app as it is now (the function still exists and
 * subscribes to the type, its filter still matches, the data still matches the type's current
 * schema, the hop limit holds); one that fails stays dead-lettered with reason `replay-refused`.
 * A running `palisade dev` picks requeued deliveries up within a second.
 */
export async function runDlqReplay(
  eventId: string | undefined,
  opts: { app: string; all?: boolean; function?: string } & OperatorNatsFlags,
): Promise<number> {
  if ((eventId === undefined) === !opts.all)
    throw usageError("Give an event id or --all, not both and not neither");
  const app = loadApp(opts.app);
  const by = { by: `cli:${userInfo().username}`, at: Date.now() };
  return withOperatorStore(app, opts, async (store) => {
    const result = await replayDeadLetters(
      app,
      store,
      {
        ...(eventId === undefined ? {} : { eventId }),
        ...(opts.function === undefined ? {} : { function: opts.function }),
      },
      by,
    );
    if (result.matched === 0) {
      process.stderr.write("palisade: no matching dead letters\n");
      return EXIT_FAILURE;
    }
    for (const r of result.refused) process.stderr.write(`refused ${r.eventId} → ${r.target}: ${r.reason}\n`);
    auditCommand(opts.app, {
      kind: AUDIT_KIND.replayed,
      outcome: "allowed",
      details: dlqReplayDetails(result, eventId),
    });
    process.stdout.write(`requeued ${result.requeued} of ${result.matched} dead letter(s)\n`);
    return result.requeued === result.matched ? EXIT_OK : EXIT_FAILURE;
  });
}
