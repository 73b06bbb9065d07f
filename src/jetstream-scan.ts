/**
 * Reads a stretch of a JetStream stream, optionally only the subjects a filter names, through a
 * short-lived ephemeral consumer: the server counts the matching messages first, so the read ends as
 * soon as they have arrived instead of waiting out an expiry. Shared by the NATS store (bus/nats/)
 * and the NATS trace store (observe/), as group-commit.ts is by the SQLite stores.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";

/** What to read. */
export interface ScanOptions {
  /** Only subjects matching this filter. */
  readonly filter?: string;
  /** First stream sequence to read. @default 1 */
  readonly startSeq?: number;
  /** At most this many messages. @default all */
  readonly max?: number;
  /** Headers only (the data is left on the server). */
  readonly headersOnly?: boolean;
}

const BATCH = 500;

/** Every message of `stream` the options select, oldest first. Cost: one consumer, O(matches). */
export async function* scanStream(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  options: ScanOptions = {},
): AsyncGenerator<JsMsg> {
  const start = options.startSeq ?? 1;
  const info = await jsm.consumers.add(stream, {
    ack_policy: "none",
    deliver_policy: start > 1 ? "by_start_sequence" : "all",
    ...(start > 1 ? { opt_start_seq: start } : {}),
    ...(options.filter === undefined ? {} : { filter_subject: options.filter }),
    ...(options.headersOnly === true ? { headers_only: true } : {}),
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: 30_000 * 1_000_000,
  });
  try {
    let left = Math.min(info.num_pending, options.max ?? Number.POSITIVE_INFINITY);
    const consumer = js.consumers.getConsumerFromInfo(info);
    while (left > 0) {
      const want = Math.min(left, BATCH);
      const batch = await consumer.fetch({ max_messages: want, expires: 10_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        left--;
        yield m;
        if (left <= 0) break;
      }
      // Messages counted but gone meanwhile (pruned): stop rather than wait for them.
      if (got < want) break;
    }
  } finally {
    await jsm.consumers.delete(stream, info.name).catch(() => false);
  }
}
