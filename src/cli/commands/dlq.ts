import { join, resolve } from "node:path";
import { openSqliteEventLog } from "../../bus/index.ts";
import { EXIT_OK } from "../exit-code.ts";

/** `palisade dlq list`: dead-lettered deliveries of the app, newest first, read from its log. */
export async function runDlqList(opts: { app: string; json?: boolean; limit: number }): Promise<number> {
  const log = openSqliteEventLog(join(resolve(opts.app), ".palisade", "events.db"));
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
