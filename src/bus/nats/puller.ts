/**
 * Keeps a small buffer of messages from one durable pull consumer: a background loop fetches with
 * a short expiry (so after a server restart or a leader change the consumer is asked again within
 * seconds) whenever the buffer has room, and reports each arrival. `take` never waits on the broker.
 */
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";

/** A running fetch loop. */
export interface Puller {
  /** Up to `limit` buffered messages, oldest first, removed from the buffer. */
  take(limit: number): JsMsg[];
  /** Messages buffered and not yet taken. */
  buffered(): readonly JsMsg[];
  /** Stops fetching; resolves to what was still buffered (never handed out). */
  stop(): Promise<JsMsg[]>;
}

/** How a puller fetches. */
export interface PullerOptions {
  /** Messages held at most (each is leased from the moment it arrives). */
  readonly prefetch: number;
  /** How long one fetch waits on the server for messages, in ms. */
  readonly expiresMs: number;
  /** Called after messages arrived. */
  readonly onArrival: () => void;
}

/** Starts fetching from `stream`'s durable consumer `name`. */
export function startPuller(
  js: JetStreamClient,
  stream: string,
  name: string,
  options: PullerOptions,
): Puller {
  const buffer: JsMsg[] = [];
  let stopped = false;
  let current: { close(): Promise<unknown> } | undefined;
  let room: (() => void) | undefined;
  let pause: ReturnType<typeof setTimeout> | undefined;
  let resumePause: (() => void) | undefined;

  const rest = (ms: number) =>
    new Promise<void>((resolve) => {
      resumePause = resolve;
      pause = setTimeout(resolve, ms);
    });

  async function loop(): Promise<void> {
    while (!stopped) {
      const want = options.prefetch - buffer.length;
      if (want <= 0) {
        await new Promise<void>((resolve) => {
          room = resolve;
        });
        continue;
      }
      try {
        const consumer = await js.consumers.get(stream, name);
        const batch = await consumer.fetch({ max_messages: want, expires: options.expiresMs });
        current = batch;
        for await (const m of batch) {
          buffer.push(m);
          options.onArrival();
        }
      } catch {
        // The server is away or the consumer is being created elsewhere: ask again shortly.
        if (!stopped) await rest(1000);
      } finally {
        current = undefined;
      }
    }
  }
  const done = loop();

  return {
    take(limit) {
      const out = buffer.splice(0, limit);
      if (out.length > 0) room?.();
      return out;
    },
    buffered: () => buffer,
    async stop() {
      stopped = true;
      room?.();
      if (pause !== undefined) clearTimeout(pause);
      resumePause?.();
      await current?.close();
      await done;
      return buffer.splice(0);
    },
  };
}
