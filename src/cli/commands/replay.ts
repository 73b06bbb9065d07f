import { userInfo } from "node:os";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import type { EventStore, StoredEvent } from "../../bus/index.ts";
import { matchesTypePattern } from "../../events/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { parseInstant } from "../parse-instant.ts";
import { usageError } from "../usage-error.ts";
import { currentRegistry, whyNot } from "./replay-check.ts";

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
  const registry = currentRegistry(app);
  const replay = { by: `cli:${userInfo().username}`, at: now };
  let events = 0;
  let replayed = 0;
  let refused = 0;
  await withOperatorStore(app, opts, async (store) => {
    const matching = [];
    for (let after = 0; ; ) {
      const { batch, last } = await readArchive(store.events, after);
      if (last === undefined) break;
      after = last;
      for (const s of batch) {
        if (s.acceptedAt < since || s.acceptedAt > until) continue;
        if (opts.type !== undefined && !matchesTypePattern(opts.type, s.event.type)) continue;
        matching.push(s);
      }
    }
    for (const s of matching) {
      const targets =
        opts.function !== undefined
          ? [opts.function]
          : [...app.functions.values()]
              .filter((f) => f.on.some((p) => matchesTypePattern(p, s.event.type)))
              .map((f) => f.name);
      for (const target of targets) {
        const refusal = whyNot(app, registry, target, s.event);
        await store.queue.replay(s.seq, target, replay, refusal);
        if (refusal === undefined) replayed++;
        else {
          refused++;
          process.stderr.write(`\nrefused ${s.event.id} → ${target}: ${refusal}\n`);
        }
      }
      events++;
      progress(events, matching.length);
    }
  });
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

const BATCH = 1000;

/**
 * The next archived events after `after` and the last position read. A record that does not open
 * (corrupt) is reported and skipped, so it cannot stop the replay of the others.
 */
async function readArchive(
  events: EventStore,
  after: number,
): Promise<{ batch: StoredEvent[]; last: number | undefined }> {
  let last: number | undefined;
  const batch = await events.read(after, BATCH, (seq, error) => {
    process.stderr.write(`\nskipped event at position ${seq}: ${error}\n`);
    last = Math.max(last ?? 0, seq);
  });
  const read = batch.at(-1)?.seq;
  return { batch, last: read === undefined ? last : Math.max(read, last ?? 0) };
}
