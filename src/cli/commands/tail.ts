/**
 * `palisade tail`: what a running app does, live, from its gateway's admin stream
 * (`GET /admin/v1/stream?tail=1`, Server-Sent Events): events accepted and emitted, deliveries
 * settled, function log lines (already bounded and redacted by the runtime), refusals, findings and
 * holds. The gateway filters by `--type` and `--function`. A dropped connection is retried every
 * RETRY_MS (said on stderr); Ctrl-C or SIGTERM ends it with exit code 0.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { GATEWAY_FILE, openAppSecrets, runningGatewayUrl } from "../../app-secrets.ts";
import { isPalisadeError, PalisadeError } from "../../errors.ts";
import { loadApp, MANIFEST_FILE } from "../../manifest/index.ts";
import { type AdminUrlFlags, CLI_UNREACHABLE, gatewayUrl, givenAdminKey } from "../admin-client.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { usageError } from "../usage-error.ts";
import { formatTailItem, type TailLine } from "./tail-format.ts";

export interface TailOptions extends AdminUrlFlags {
  app: string;
  type?: string;
  function?: string;
  json?: boolean;
}

/** Wait between reconnection attempts. */
const RETRY_MS = 2000;
/** The gateway sends a keepalive every 15 s: this long without a byte, the connection is dead. */
const IDLE_MS = 45_000;

interface Target {
  /** The stream's URL; re-read for a local app at each reconnection (dev may have restarted). */
  url(): string;
  key: string;
}

/** Streams until Ctrl-C or SIGTERM (exit 0); fails at once if the gateway cannot be reached at first. */
export async function runTail(opts: TailOptions): Promise<number> {
  const target = targetOf(opts);
  const stop = new AbortController();
  const abort = () => stop.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    let connected = false;
    // Whether the stream is down and that was said: said once, until it is back.
    let down = false;
    while (!stop.signal.aborted) {
      const reason = await follow(target, opts, stop.signal, (url) => {
        process.stderr.write(
          connected ? `palisade: reconnected to ${url}\n` : `palisade: tailing ${url} (Ctrl-C to stop)\n`,
        );
        connected = true;
        down = false;
      });
      if (stop.signal.aborted) break;
      if (!connected) throw new PalisadeError(CLI_UNREACHABLE, `Cannot tail: ${reason}`);
      if (!down)
        process.stderr.write(
          `palisade: the stream dropped (${reason}); reconnecting every ${RETRY_MS / 1000} s\n`,
        );
      down = true;
      await sleep(RETRY_MS, stop.signal);
    }
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
  return EXIT_OK;
}

/**
 * One connection: prints its items until it ends; resolves to why it ended. `onOpen` runs once the
 * gateway accepted the stream. Refusals no retry can cure (the key, the role, a bad filter) throw.
 */
async function follow(
  target: Target,
  opts: TailOptions,
  stopped: AbortSignal,
  onOpen: (url: string) => void,
): Promise<string> {
  let url: string;
  try {
    url = target.url();
  } catch (err) {
    return (err as Error).message; // not running (now): said, and tried again
  }
  const connection = new AbortController();
  const end = () => connection.abort();
  stopped.addEventListener("abort", end, { once: true });
  let idle = setTimeout(end, IDLE_MS);
  try {
    const res = await fetch(streamUrl(url, opts), {
      headers: { authorization: `Bearer ${target.key}`, accept: "text/event-stream" },
      signal: connection.signal,
    });
    // A 4xx (the key, the role, a bad filter) no retry cures; a 5xx (a proxy, a restart) may pass.
    if (res.status >= 400 && res.status < 500) throw await refusal(res, url);
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel();
      return `the gateway answered ${res.status}`;
    }
    onOpen(new URL(url).origin);
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of res.body) {
      clearTimeout(idle);
      idle = setTimeout(end, IDLE_MS);
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      const messages = buffer.split("\n\n");
      buffer = messages.pop() ?? "";
      for (const message of messages) onMessage(message, opts);
    }
    return "the gateway closed it";
  } catch (err) {
    if (isPalisadeError(err)) throw err;
    if (stopped.aborted) return "stopped";
    if (connection.signal.aborted) return `nothing received for ${IDLE_MS / 1000} s`;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `Cannot reach the gateway at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}; is it running (palisade dev / start), and is --url right?`;
  } finally {
    clearTimeout(idle);
    stopped.removeEventListener("abort", end);
  }
}

function streamUrl(base: string, opts: TailOptions): URL {
  const url = new URL("/admin/v1/stream", base);
  url.searchParams.set("tail", "1");
  if (opts.type !== undefined) url.searchParams.set("type", opts.type);
  if (opts.function !== undefined) url.searchParams.set("function", opts.function);
  return url;
}

/** The gateway's answer other than a stream, as the error to stop with. */
async function refusal(res: Response, url: string): Promise<PalisadeError> {
  const text = await res.text().catch(() => "");
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // not the admin API's error body
  }
  const message = typeof error?.message === "string" ? error.message : `HTTP ${res.status}`;
  return new PalisadeError(
    typeof error?.code === "string" ? error.code : "PAL_CLI_ADMIN_API",
    `Cannot tail ${url}: ${message}`,
    { status: res.status },
  );
}

/** One Server-Sent Events message: `batch` items are printed, `error` ends the command. */
function onMessage(message: string, opts: TailOptions): void {
  let event = "message";
  let data = "";
  for (const line of message.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trimStart();
  }
  if (data === "") return;
  const parsed = JSON.parse(data) as {
    items?: TailLine[];
    dropped?: number;
    code?: string;
    message?: string;
  };
  if (event === "error")
    throw new PalisadeError(String(parsed.code ?? "PAL_CLI_ADMIN_API"), String(parsed.message ?? data));
  if (event !== "batch") return;
  for (const item of parsed.items ?? [])
    process.stdout.write(opts.json ? `${JSON.stringify(item)}\n` : formatTailItem(item));
  if ((parsed.dropped ?? 0) > 0)
    process.stderr.write(`palisade: the gateway dropped ${parsed.dropped} items (too many at once)\n`);
}

/** Where to connect and with which admin key: the flags, else the app's files. */
function targetOf(opts: TailOptions): Target {
  const appDir = resolve(opts.app);
  const local = existsSync(join(appDir, MANIFEST_FILE));
  if (opts.url === undefined && !local)
    throw usageError(
      `Cannot tail: there is no ${MANIFEST_FILE} in "${appDir}"; run it inside an app directory, or pass --app <dir> or --url <gateway>`,
    );
  const key = keyOf(opts, local ? appDir : undefined);
  if (opts.url !== undefined) {
    const url = gatewayUrl(opts.url).href; // the key goes only over HTTPS or to loopback
    return { url: () => url, key };
  }
  return { url: () => runningGateway(appDir), key };
}

/** The running gateway's URL from `.palisade/gateway.json` (written while it serves). */
function runningGateway(appDir: string): string {
  const url = runningGatewayUrl(appDir);
  if (url === undefined)
    throw new PalisadeError(
      CLI_UNREACHABLE,
      `The app in "${appDir}" is not running (no ${join(".palisade", GATEWAY_FILE)}); start it with palisade dev, or pass --url`,
    );
  return url;
}

/** --admin-key-file, else PALISADE_ADMIN_KEY, else the first admin's key in the app's secret store. */
function keyOf(opts: TailOptions, appDir: string | undefined): string {
  const given = givenAdminKey(opts);
  if (given !== undefined) return given;
  if (appDir !== undefined) {
    const secrets = openAppSecrets(appDir);
    for (const admin of loadApp(appDir).admins.values()) {
      const key = admin.auth.kind === "apiKey" ? secrets.get(admin.auth.secret) : undefined;
      if (key !== undefined) return key;
    }
  }
  throw usageError(
    "Cannot tail: no admin key; set PALISADE_ADMIN_KEY, pass --admin-key-file, or run palisade dev once so the app's secret store holds one",
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
