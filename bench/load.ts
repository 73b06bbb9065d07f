/**
 * Closed-loop HTTP load generator: `concurrency` workers each keep one POST in flight over a
 * keep-alive socket until `total` requests have been sent. Loopback only.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

export interface LoadResult {
  /** Wall time from the first request to the last response, in ms. */
  ms: number;
  /** Requests answered 202. */
  accepted: number;
  /** Requests answered anything else, or failed at the socket. */
  errors: number;
  /** Ids from 202 bodies of the form `{ ids: [...] }`, in completion order. */
  ids: string[];
  /** Duration of every answered request (202 or not; from send to response end), in nanoseconds. */
  latenciesNs: number[];
  firstError?: string;
}

/** API key of the bench app's principal. */
export const BENCH_KEY = "bench-key-0123456789abcdef0123456789";

/** A fixed request body, or one built from the request's index (0 ≤ i < total). */
export type BodySource = string | ((i: number) => string);

export interface DriveOptions {
  /** Content-Type of every request; `application/json` unless told. */
  contentType?: string;
  /** Extra request headers (the bench principal's Authorization is always sent). */
  headers?: Readonly<Record<string, string>>;
}

export interface Reply {
  status: number;
  text: string;
}

/** One POST /events over `agent`; resolves with the status and body text. */
export function post(
  agent: Agent,
  url: URL,
  body: string,
  headers: Record<string, string | number>,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: "/events",
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends `total` POST /events requests, `concurrency` at a time, to a 127.0.0.1 server. */
export async function drive(
  base: string,
  total: number,
  concurrency: number,
  body: BodySource,
  options: DriveOptions = {},
): Promise<LoadResult> {
  const url = new URL(base);
  if (url.hostname !== "127.0.0.1") throw new Error(`bench talks to 127.0.0.1 only, not ${url.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  // Every request carries the bench principal's key; the bare baseline ignores it.
  const headers = {
    ...options.headers,
    "content-type": options.contentType ?? "application/json",
    authorization: `Bearer ${BENCH_KEY}`,
  };
  const bodyAt = typeof body === "string" ? () => body : body;
  const result: LoadResult = { ms: 0, accepted: 0, errors: 0, ids: [], latenciesNs: [] };
  let next = 0;

  async function worker(): Promise<void> {
    while (next < total) {
      const payload = bodyAt(next);
      next += 1;
      const t0 = process.hrtime.bigint();
      try {
        const reply = await post(agent, url, payload, headers);
        result.latenciesNs.push(Number(process.hrtime.bigint() - t0));
        if (reply.status !== 202) throw new Error(`HTTP ${reply.status}: ${reply.text.slice(0, 200)}`);
        result.accepted += 1;
        const ids = (JSON.parse(reply.text) as { ids?: unknown }).ids;
        if (Array.isArray(ids)) for (const id of ids) result.ids.push(String(id));
      } catch (err) {
        result.errors += 1;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }

  const start = performance.now();
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, () => worker()));
  } finally {
    result.ms = performance.now() - start;
    agent.destroy();
  }
  return result;
}
