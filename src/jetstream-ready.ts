/**
 * Waiting for JetStream to answer for something just created. Several nodes starting at once on a
 * fresh cluster create the same streams and KV buckets; the first read of one may find no replica
 * serving it yet (nats.js reports "no responders", or a timeout) while its leader is elected. That
 * is a matter of seconds, not an error to stop a node for: the read is tried again until `waitMs`.
 */

/** How long a starting node waits for a new stream or bucket to answer. */
export const READY_WAIT_MS = 15_000;

/** `op`'s result once JetStream answers it; its error when it fails otherwise, or after `waitMs`. */
export async function whenAnswering<T>(op: () => Promise<T>, waitMs = READY_WAIT_MS): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const text = String((err as Error)?.message ?? err);
      const electing = /no responders|jetstream is not enabled|timeout|timed out|leader/i.test(text);
      const pause = Math.min(1_000, 100 * 2 ** attempt);
      if (!electing || Date.now() + pause > deadline) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
