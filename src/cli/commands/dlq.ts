import { userInfo } from "node:os";
import {
  type DlqReplayResult,
  type DlqSelection,
  dlqReplayDetails,
  replayDeadLetters,
} from "../../admin/index.ts";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import type { DeadLetter, DeliveryQueue, Store } from "../../bus/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { createProgress, type Progress } from "../progress.ts";
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

/** Frames of a failure's stack shown per dead letter in text (--json has them all). */
const FRAMES_SHOWN = 3;

/**
 * Prints dead letters, one line each with the first frames of the function's stack under it (or a
 * JSON array, each `error` whole: the message, then the stack one frame a line).
 */
export function printDeadLetters(rows: readonly DeadLetter[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  if (rows.length === 0) process.stdout.write("the dead-letter queue is empty\n");
  for (const r of rows) {
    const when = new Date(r.at).toISOString();
    const lines = r.error.split("\n");
    const first = lines.findIndex((line) => /^ {4}at /.test(line));
    const message = first === -1 ? r.error : lines.slice(0, first).join("\n");
    const frames = first === -1 ? [] : lines.slice(first);
    const more = frames.length - FRAMES_SHOWN;
    process.stdout.write(
      `${when}  ${r.target}  ${r.type}  ${r.eventId}  ${r.reason}  after ${r.attempts} attempt(s): ${message}\n${frames
        .slice(0, FRAMES_SHOWN)
        .map((f) => `${f}\n`)
        .join("")}${more > 0 ? `    … ${more} more frame(s) (--json shows them)\n` : ""}`,
    );
  }
}

/**
 * `palisade dlq replay [eventId] [--all] [--function F] [--json]`: moves dead letters back to
 * pending. Not a back door: each is checked against the app as it is now (the function still exists
 * and subscribes to the type, its filter still matches, the data still matches the type's current
 * schema, the hop limit holds); one that fails stays dead-lettered with reason `replay-refused`.
 * A running `palisade dev` picks requeued deliveries up within a second.
 */
export async function runDlqReplay(
  eventId: string | undefined,
  opts: { app: string; all?: boolean; function?: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  if ((eventId === undefined) === !opts.all)
    throw usageError("Give an event id or --all, not both and not neither");
  const app = loadApp(opts.app);
  const by = { by: `cli:${userInfo().username}`, at: Date.now() };
  const selection: DlqSelection = {
    ...(eventId === undefined ? {} : { eventId }),
    ...(opts.function === undefined ? {} : { function: opts.function }),
  };
  const progress = createProgress("replaying dead letters");
  return withOperatorStore(app, opts, async (store) => {
    let result: DlqReplayResult;
    try {
      result = await replayDeadLetters(app, withProgress(store, selection, progress), selection, by);
    } finally {
      progress.done();
    }
    if (result.matched > 0)
      auditCommand(opts.app, {
        kind: AUDIT_KIND.replayed,
        outcome: "allowed",
        details: dlqReplayDetails(result, eventId),
      });
    return printDlqReplay(result, opts.json === true);
  });
}

/**
 * Prints a DLQ replay's result (the local command and `--url` alike): refusals on standard error and
 * the counts on standard output, or the whole result as JSON. Returns the exit code: 1 when nothing
 * matched or any was refused.
 */
export function printDlqReplay(result: DlqReplayResult, json: boolean): number {
  const ok = result.matched > 0 && result.requeued === result.matched;
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (result.matched === 0) process.stderr.write("palisade: no matching dead letters\n");
  else {
    for (const r of result.refused) process.stderr.write(`refused ${r.eventId} → ${r.target}: ${r.reason}\n`);
    process.stdout.write(`requeued ${result.requeued} of ${result.matched} dead letter(s)\n`);
  }
  return ok ? EXIT_OK : EXIT_FAILURE;
}

/**
 * `store` with its queue counting what the replay settles (requeued or kept dead) on `progress`, out
 * of the dead letters `selection` matches: replayDeadLetters has no progress callback of its own.
 */
function withProgress(store: Store, selection: DlqSelection, progress: Progress): Store {
  const queue = store.queue;
  let total = 0;
  let done = 0;
  const settled =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const r = await fn(...args);
      progress.update(++done, total);
      return r;
    };
  const counted: DeliveryQueue = Object.create(queue, {
    deadLetters: {
      value: async (limit: number) => {
        const rows = await queue.deadLetters(limit);
        total = rows.filter(
          (d) =>
            (selection.eventId === undefined || d.eventId === selection.eventId) &&
            (selection.function === undefined || d.target === selection.function),
        ).length;
        progress.update(0, total);
        return rows;
      },
    },
    requeue: { value: settled(queue.requeue.bind(queue)) },
    replay: { value: settled(queue.replay.bind(queue)) },
  });
  return Object.create(store, { queue: { value: counted } });
}
