import { userInfo } from "node:os";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";
import { currentRegistry, whyNot } from "./replay-check.ts";

/**
 * `palisade dlq list`: dead-lettered deliveries of the app, newest first, read from its store (the
 * app's file, or the NATS deployment `--nats` names).
 */
export async function runDlqList(
  opts: { app: string; json?: boolean; limit: number } & OperatorNatsFlags,
): Promise<number> {
  return withOperatorStore(loadApp(opts.app), opts, async (store) => {
    const rows = await store.queue.deadLetters(opts.limit);
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
  });
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
  const registry = currentRegistry(app);
  const by = { by: `cli:${userInfo().username}`, at: Date.now() };
  return withOperatorStore(app, opts, async (store) => {
    const dead = (await store.queue.deadLetters(1_000_000)).filter(
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
      let unreadable: string | undefined;
      const [stored] = await store.events.read(d.seq - 1, 1, (_seq, error) => {
        unreadable = error;
      });
      if (unreadable !== undefined) {
        // A record that does not open stays dead-lettered as it is (corrupt); the others go on.
        process.stderr.write(
          `refused ${d.eventId} → ${d.target}: its stored event does not open: ${unreadable}\n`,
        );
        continue;
      }
      const refusal =
        stored?.seq !== d.seq
          ? "the event is no longer in the store"
          : whyNot(app, registry, d.target, stored.event);
      if (refusal === undefined) {
        if (await store.queue.requeue(d.seq, d.target)) requeued++;
        continue;
      }
      // Stays dead, now for this reason (the earlier outcome is kept in its history).
      await store.queue.replay(d.seq, d.target, by, refusal);
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
  });
}
