/**
 * A dashboard left open during the benchmark, in its own process (as a browser would be): it holds
 * the live stream (`/admin/v1/stream`), parses every batch as the page does, and polls the overview
 * every 2 s. `node bench/dashboard-client.ts <gateway url>` with PALISADE_ADMIN_KEY set; on SIGTERM
 * it prints what it saw as one line of JSON.
 */
const [url] = process.argv.slice(2);
const key = process.env.PALISADE_ADMIN_KEY ?? "";
const headers = { authorization: `Bearer ${key}` };
const seen = { batches: 0, items: 0, dropped: 0, overviews: 0 };

const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());

const poll = setInterval(() => {
  void fetch(`${url}/admin/v1/overview`, { headers, signal: stop.signal })
    .then((r) => r.json())
    .then(() => {
      seen.overviews++;
    })
    .catch(() => {});
}, 2000);

try {
  const res = await fetch(`${url}/admin/v1/stream`, { headers, signal: stop.signal });
  if (res.status !== 200 || res.body === null) throw new Error(`stream: HTTP ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  process.stdout.write("connected\n");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!message.startsWith("event: batch")) continue;
      const data = JSON.parse(message.slice(message.indexOf("data: ") + 6)) as {
        items: unknown[];
        dropped: number;
      };
      seen.batches++;
      seen.items += data.items.length;
      seen.dropped += data.dropped;
    }
  }
} catch (err) {
  if (!stop.signal.aborted) {
    process.stderr.write(`dashboard client: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
} finally {
  clearInterval(poll);
  process.stdout.write(`${JSON.stringify(seen)}\n`);
}
