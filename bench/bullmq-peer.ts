/**
 * The BullMQ peer (issue 14): no-op jobs through BullMQ on the machine's Redis (127.0.0.1:6379),
 * the same count as Palisade's end-to-end run, added in bulk batches of the same size and timed from
 * the first add to the last completed job. Redis here keeps nothing on disk, so BullMQ runs with no
 * durability, no authentication, no validation, no encryption and no sandbox: a ceiling for a job
 * queue, not a like-for-like platform. When Redis is not there, the run says so instead of failing.
 */
import { performance } from "node:perf_hooks";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

export type BullmqRun = { jobsPerSec: number; jobs: number } | { absent: string };

const CONNECTION = { host: "127.0.0.1", port: 6379 };

/** Adds `batches` × `batchSize` no-op jobs and waits until a worker of `concurrency` completed them. */
export async function runBullmq(batches: number, batchSize: number, concurrency: number): Promise<BullmqRun> {
  const absent = await redisAbsent();
  if (absent !== undefined) return { absent };
  const name = `palisade-bench-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection: CONNECTION });
  const total = batches * batchSize;
  let completed = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const worker = new Worker(name, async () => {}, {
    connection: CONNECTION,
    concurrency,
    removeOnComplete: { count: 0 },
    autorun: false,
  });
  worker.on("completed", () => {
    if (++completed >= total) done();
  });
  try {
    await worker.waitUntilReady();
    const start = performance.now();
    void worker.run();
    for (let b = 0; b < batches; b++)
      await queue.addBulk(
        Array.from({ length: batchSize }, (_, i) => ({ name: "ping", data: { n: b * batchSize + i } })),
      );
    await finished;
    return { jobs: total, jobsPerSec: (total / (performance.now() - start)) * 1000 };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** Why Redis cannot be used, or undefined when it answers PING. */
async function redisAbsent(): Promise<string | undefined> {
  const probe = new Redis({
    ...CONNECTION,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (err) {
    return `no Redis at ${CONNECTION.host}:${CONNECTION.port} (${(err as Error).message}): BullMQ not measured`;
  } finally {
    probe.disconnect();
  }
}
