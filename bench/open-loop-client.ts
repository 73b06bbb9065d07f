/**
 * The open-loop sender of the latency bench, run as its own process so that the HTTP client does not
 * share the platform's event loop (on a real deployment senders are elsewhere). POSTs one
 * `bench.ping` per 1/rate seconds, each on schedule whatever earlier ones are doing, and sends its
 * timings back over IPC. Times are epoch milliseconds with sub-millisecond precision
 * (performance.timeOrigin + performance.now()), comparable with the parent's.
 *
 * The first `warmupSeconds` at the rate open the client's connections and warm both sides; their
 * requests are sent the same way and reported as `measuredFrom`, the index of the first one timed.
 *
 * argv: url rate seconds sockets warmupSeconds
 */
import { Agent } from "node:http";
import { EVENT_BODY } from "./e2e.ts";
import { BENCH_KEY, post } from "./load.ts";
import { epochNow, paceOpenLoop } from "./pace.ts";

export interface OpenLoopResult {
  /** Send time of each request, epoch ms. */
  sentAt: number[];
  /** Event id of each accepted request (null when it was not accepted). */
  ids: (string | null)[];
  /** Duration of each 202 (send to response end), ms. */
  acceptMs: number[];
  /** Index of the first request after the warm-up; earlier ones are not part of the results. */
  measuredFrom: number;
  /** Send time of the first measured request, epoch ms. */
  start: number;
  sendMs: number;
  maxSendLagMs: number;
  httpErrors: number;
  firstError?: string;
}

async function offer(
  url: URL,
  rate: number,
  seconds: number,
  sockets: number,
  warmupSeconds: number,
): Promise<OpenLoopResult> {
  const measuredFrom = Math.round(rate * warmupSeconds);
  const total = measuredFrom + Math.round(rate * seconds);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const headers = { "content-type": "application/json", authorization: `Bearer ${BENCH_KEY}` };
  const result: OpenLoopResult = {
    sentAt: new Array<number>(total).fill(0),
    ids: new Array<string | null>(total).fill(null),
    acceptMs: [],
    measuredFrom,
    start: 0,
    sendMs: 0,
    maxSendLagMs: 0,
    httpErrors: 0,
  };
  const replies: Promise<void>[] = [];
  const fire = (i: number): void => {
    const t0 = epochNow();
    result.sentAt[i] = t0;
    const reply = post(agent, url, EVENT_BODY, headers).then((r) => {
      if (i >= measuredFrom) result.acceptMs.push(epochNow() - t0);
      if (r.status !== 202) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
      result.ids[i] = String((JSON.parse(r.text) as { ids: unknown[] }).ids[0]);
    });
    replies.push(
      reply.catch((err: unknown) => {
        result.httpErrors += 1;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }),
    );
  };
  const start = epochNow();
  const interval = 1000 / rate;
  await paceOpenLoop(rate, total, start, fire, (i, ms) => {
    if (i >= measuredFrom) result.maxSendLagMs = Math.max(result.maxSendLagMs, ms);
  });
  result.start = start + measuredFrom * interval;
  result.sendMs = epochNow() - result.start;
  await Promise.all(replies);
  agent.destroy();
  return result;
}

const [url = "", rate = "0", seconds = "0", sockets = "0", warmup = "0"] = process.argv.slice(2);
const target = new URL(url);
if (target.hostname !== "127.0.0.1") throw new Error(`bench talks to 127.0.0.1 only, not ${target.hostname}`);
const result = await offer(target, Number(rate), Number(seconds), Number(sockets), Number(warmup));
process.send?.(result, () => process.disconnect?.());
