/**
 * Reads a stretch of the traces stream through a short-lived ephemeral consumer that counts the
 * matching messages first, so a read ends once they have arrived instead of waiting out an expiry
 * (the bus's scanStream does the same for event streams; observe does not import the bus).
 */
import { type JetStreamManager, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

const BATCH = 500;

/**
 * Messages of the traces stream from `startSeq` (default the first), only `filter`'s when given;
 * with `headersOnly` their subjects without the spans (the server sends no bodies).
 */
export async function* scanTraces(
  target: { readonly nc: NatsConnection; readonly jsm: JetStreamManager; readonly stream: string },
  options: { filter?: string; startSeq?: number; headersOnly?: boolean },
): AsyncGenerator<JsMsg> {
  const start = options.startSeq ?? 1;
  const info = await target.jsm.consumers.add(target.stream, {
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
    let left = info.num_pending;
    const consumer = jetstream(target.nc).consumers.getConsumerFromInfo(info);
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
      if (got < want) break; // counted but dropped meanwhile (retention): stop rather than wait
    }
  } finally {
    await target.jsm.consumers.delete(target.stream, info.name).catch(() => false);
  }
}
