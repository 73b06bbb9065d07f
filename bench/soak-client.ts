/**
 * The soak bench's sender (bench/soak.ts), run as its own process so that the HTTP client does not
 * share the platform's event loop. Unlike bench/open-loop-client.ts, which reports once at the end,
 * it streams what it sent every REPORT_MS over IPC, so that neither process holds a record per event
 * for a 10-minute run (the platform's RSS is what the soak watches).
 *
 * Two modes, single `bench.ping` events over keep-alive sockets:
 * - `open`: one POST per 1/rate seconds for `seconds`, each on schedule whatever the earlier ones are
 *   doing (offered load);
 * - `closed`: `rate` workers each keep one POST in flight for `seconds` (the maximum it accepts).
 *
 * Times are epoch milliseconds with sub-millisecond precision (performance.timeOrigin +
 * performance.now()), comparable with the parent's.
 *
 * argv: mode url rate|workers seconds sockets
 */
import { Agent } from "node:http";
import { EVENT_BODY } from "./e2e.ts";
import { BENCH_KEY, post } from "./load.ts";
import { epochNow, paceOpenLoop } from "./pace.ts";

/** What the sender has done since its previous message. */
export interface SoakBatch {
  kind: "batch";
  /** Accepted requests: event id, send time (epoch ms) and time to the 202 (ms), index by index. */
  ids: string[];
  sentAt: number[];
  acceptMs: number[];
  /** Requests issued. */
  sent: number;
  /** Requests answered anything but 202, or failed at the socket. */
  httpErrors: number;
  firstError?: string;
  /** The furthest a send fell behind its schedule (open loop), in ms. */
  maxSendLagMs: number;
}

export type SoakClientMessage = { kind: "start"; at: number } | SoakBatch | { kind: "done"; at: number };

const REPORT_MS = 250;

function emptyBatch(): SoakBatch {
  return { kind: "batch", ids: [], sentAt: [], acceptMs: [], sent: 0, httpErrors: 0, maxSendLagMs: 0 };
}

function createSender(url: URL, sockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const headers = { "content-type": "application/json", authorization: `Bearer ${BENCH_KEY}` };
  let batch = emptyBatch();
  let inFlight = 0;
  const flush = (): void => {
    if (batch.sent === 0 && batch.ids.length === 0 && batch.httpErrors === 0) return;
    process.send?.(batch);
    batch = emptyBatch();
  };
  const timer = setInterval(flush, REPORT_MS);
  return {
    get inFlight() {
      return inFlight;
    },
    lag(ms: number) {
      batch.maxSendLagMs = Math.max(batch.maxSendLagMs, ms);
    },
    async fire(): Promise<void> {
      const t0 = epochNow();
      batch.sent += 1;
      inFlight += 1;
      try {
        const r = await post(agent, url, EVENT_BODY, headers);
        if (r.status !== 202) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
        const id = String((JSON.parse(r.text) as { ids: unknown[] }).ids[0]);
        batch.ids.push(id);
        batch.sentAt.push(t0);
        batch.acceptMs.push(epochNow() - t0);
      } catch (err) {
        batch.httpErrors += 1;
        batch.firstError ??= err instanceof Error ? err.message : String(err);
      } finally {
        inFlight -= 1;
      }
    },
    close() {
      clearInterval(timer);
      flush();
      agent.destroy();
    },
  };
}

type Sender = ReturnType<typeof createSender>;

async function openLoop(sender: Sender, rate: number, seconds: number, start: number): Promise<void> {
  await paceOpenLoop(
    rate,
    Math.round(rate * seconds),
    start,
    () => void sender.fire(),
    (_, ms) => sender.lag(ms),
  );
}

async function closedLoop(sender: Sender, workers: number, seconds: number, start: number): Promise<void> {
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (epochNow() < end) await sender.fire();
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

const [mode = "", url = "", rate = "0", seconds = "0", sockets = "0"] = process.argv.slice(2);
const target = new URL(url);
if (target.hostname !== "127.0.0.1") throw new Error(`bench talks to 127.0.0.1 only, not ${target.hostname}`);
if (mode !== "open" && mode !== "closed") throw new Error(`mode must be "open" or "closed", not "${mode}"`);
// The parent gone (its watchdog, a crash): stop sending rather than load a machine no one measures.
process.on("disconnect", () => process.exit(0));
const sender = createSender(target, Number(sockets));
const start = epochNow();
process.send?.({ kind: "start", at: start } satisfies SoakClientMessage);
await (mode === "open" ? openLoop : closedLoop)(sender, Number(rate), Number(seconds), start);
while (sender.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
sender.close();
process.send?.({ kind: "done", at: epochNow() } satisfies SoakClientMessage, () => process.disconnect?.());
