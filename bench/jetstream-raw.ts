/**
 * The NATS peer baseline: nats.js publishing messages to a JetStream stream (awaiting every PubAck,
 * `batchSize` in flight per batch) while a durable pull consumer consumes and acks them, timed from
 * the first publish to the last ack. Palisade's NATS mode is measured against this figure in the
 * same run: it carries the same messages, plus authentication, validation, encryption, sandboxes.
 */
import { performance } from "node:perf_hooks";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

export interface RawJetStreamRun {
  messages: number;
  publishPerSec: number;
  /** Publish + consume + ack, pipelined: messages per second end to end. */
  e2ePerSec: number;
}

/** Publishes `batches` × `batchSize` messages of `payload` and consumes+acks them on `url`. */
export async function runRawJetStream(
  url: string,
  batches: number,
  batchSize: number,
  payload: Uint8Array,
): Promise<RawJetStreamRun> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = `BENCH_RAW_${Date.now()}`;
    const subject = `bench.raw.${Date.now()}`;
    await jsm.streams.add({ name: stream, subjects: [subject] });
    await jsm.consumers.add(stream, {
      durable_name: "raw",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 20_000,
    });
    const js = jetstream(nc);
    const total = batches * batchSize;
    const consumer = await js.consumers.get(stream, "raw");
    const start = performance.now();
    let acked = 0;
    const consumed = (async () => {
      const messages = await consumer.consume({ max_messages: 1000 });
      for await (const m of messages) {
        m.ack();
        if (++acked >= total) break;
      }
    })();
    let n = 0;
    for (let b = 0; b < batches; b++) {
      const acks = [];
      for (let i = 0; i < batchSize; i++) acks.push(js.publish(subject, payload, { msgID: `m${n++}` }));
      await Promise.all(acks);
    }
    const published = performance.now();
    await consumed;
    await nc.flush();
    const done = performance.now();
    await jsm.streams.delete(stream);
    return {
      messages: total,
      publishPerSec: (total / (published - start)) * 1000,
      e2ePerSec: (total / (done - start)) * 1000,
    };
  } finally {
    await nc.close();
  }
}
