import { auditCommand, openAppLog } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import type { StoredEvent } from "../../bus/index.ts";
import { toPalisadeError } from "../../errors.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { usageError } from "../usage-error.ts";
import { currentRegistry, whyNot } from "./replay-check.ts";

/** `palisade dlq list`: dead-lettered deliveries of the app, newest first, read from its log. */
export async function runDlqList(opts: { app: string; json?: boolean; limit: number }): Promise<number> {
  const log = openAppLog(opts.app);
  try {
    const rows = await log.deadLetters(opts.limit);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return EXIT_OK;
    }
    if (rows.length === 0) process.stdout.write("the dead-letter queue is empty\n");
    for (const r of rows) {
      const when = new Date(r.at).toISOString();
      process.stdout.write(
        `${when}  ${r.target}  ${r.type}  ${r.eventId}  ${r.reason}  after ${r.attempts} attempt(s): ${r.error}\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await log.close();
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
  opts: { app: string; all?: boolean; function?: string },
): Promise<number> {
  if ((eventId === undefined) === !opts.all)
    throw usageError("Give an event id or --all, not both and not neither");
  const app = loadApp(opts.app);
  const registry = currentRegistry(app);
  const log = openAppLog(app.dir);
  try {
    const dead = (await log.deadLetters(1_000_000)).filter(
      (d) =>
        (eventId === undefined || d.eventId === eventId) &&
        (opts.function === undefined || d.target === opts.function),
    );
    if (dead.length === 0) {
      process.stderr.write("palisade: no matching dead letters\n");
      return EXIT_FAILURE;
    }
    let requeued = 0;
    for (const d of dead) {
      let stored: StoredEvent | undefined;
      try {
        [stored] = await log.readAfter(d.seq - 1, 1);
      } catch (err) {
        // A record that does not open stays dead-lettered as it is (corrupt); the others go on.
        const why = toPalisadeError(err).message;
        process.stderr.write(`refused ${d.eventId} → ${d.target}: its stored event does not open: ${why}\n`);
        continue;
      }
      const refusal =
        stored?.seq !== d.seq
          ? "the event is no longer in the log"
          : whyNot(app, registry, d.target, stored.event);
      if (refusal === undefined) {
        if (await log.requeue(d.seq, d.target)) requeued++;
        continue;
      }
      await log.settle(d.seq, d.target, { kind: "failed", reason: "replay-refused", error: refusal });
      process.stderr.write(`refused ${d.eventId} → ${d.target}: ${refusal}\n`);
    }
    auditCommand(opts.app, {
      kind: AUDIT_KIND.replayed,
      outcome: "allowed",
      details: {
        from: "dlq",
        count: requeued,
        refused: dead.length - requeued,
        ...(eventId ? { eventId } : {}),
      },
    });
    process.stdout.write(`requeued ${requeued} of ${dead.length} dead letter(s)\n`);
    return requeued === dead.length ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await log.close();
  }
}
