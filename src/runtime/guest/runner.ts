/**
 * The function side of the sandbox: runs inside a child process started with Node's permission model
 * (see ../sandbox-process.ts). Loads one bundle, then serves invocations one at a time, in the order the
 * host sent them. Every capability is a message to the host, which decides; this file holds no
 * authority of its own. argv: bundle, function name, output limit in bytes, scratch dir (or "").
 *
 * Self-contained on purpose: the process may read only the bundle and this file, so it imports
 * nothing but node:* at run time (the protocol's types are erased by type stripping and never read);
 * `npm run arch` fails on any other import under runtime/guest/.
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { Socket } from "node:net";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import type { FetchResult, HostMessage, InvokeItem, SerializedError } from "./protocol.ts";

type Reply = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
type Handler = (event: unknown, ctx: unknown) => unknown;

// The channel to the host: frames of a 4-byte big-endian length and v8.serialize(message) on fd 3
// (protocol.ts). The host refuses a frame over its bound by stopping this process.
const channel = new Socket({ fd: 3, readable: true, writable: true });
const send = (msg: object): void => {
  const body = v8.serialize(msg);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  channel.write(Buffer.concat([header, body]));
};

/** Calls `onMessage` with each message the host sends; the host is trusted, so no bound here. */
function readHost(onMessage: (msg: HostMessage) => void): void {
  let chunks: Buffer[] = [];
  let held = 0;
  const whole = (): Buffer => {
    const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, held);
    chunks = [all];
    return all;
  };
  channel.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    held += chunk.length;
    while (held >= 4) {
      const first = chunks[0] as Buffer;
      const size = (first.length >= 4 ? first : whole()).readUInt32BE(0);
      if (held < 4 + size) return;
      const all = whole();
      const msg = v8.deserialize(all.subarray(4, 4 + size)) as HostMessage;
      chunks = held > 4 + size ? [all.subarray(4 + size)] : [];
      held -= 4 + size;
      onMessage(msg);
    }
  });
}
const pending = new Map<number, Reply>();
let nextCall = 1;

function serialize(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const stack = stackOf(err);
    return {
      code: typeof code === "string" ? code : "PAL_RUNTIME_HANDLER_ERROR",
      message: err.message,
      retryable: true,
      ...(stack === undefined ? {} : { stack }),
    };
  }
  return { code: "PAL_RUNTIME_HANDLER_ERROR", message: String(err), retryable: true };
}

// Node maps the stack to the TypeScript source (--enable-source-maps, the bundle's inline map). The
// function's code may have replaced `stack` with anything, even a getter that throws.
function stackOf(err: Error): string | undefined {
  try {
    return typeof err.stack === "string" ? err.stack.slice(0, MAX_STACK) : undefined;
  } catch {
    return undefined;
  }
}

// Log fields cross IPC; anything structured clone cannot carry (functions, sockets) becomes a string.
function plain(fields: unknown): Record<string, unknown> {
  if (fields === undefined || fields === null || typeof fields !== "object") return {};
  try {
    return JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
  } catch {
    return { fields: String(fields) };
  }
}

function call(id: number, cap: string, args: unknown[]): Promise<unknown> {
  const n = nextCall++;
  send({ t: "call", id, call: n, cap, args });
  return new Promise((resolve, reject) => pending.set(n, { resolve, reject }));
}

function createContext(id: number, attempt: number, functionName: string, eventId: string): object {
  const log = (level: string) => (message: unknown, fields?: unknown) =>
    send({ t: "log", id, level, message: String(message).slice(0, MAX_LOG_MESSAGE), fields: plain(fields) });
  const kv =
    (op: string) =>
    (...args: unknown[]) =>
      call(id, `kv.${op}`, args);
  return Object.freeze({
    functionName,
    attempt,
    // The same for every attempt of this delivery: handlers key their side effects on it.
    idempotencyKey: `${eventId}:${functionName}`,
    // The private scratch directory (tmp: true), the only place this process may write.
    tmpdir: tmpdir === "" ? undefined : tmpdir,
    emit: (type: unknown, data: unknown) => call(id, "emit", [type, data]),
    secrets: Object.freeze({ get: (name: unknown) => call(id, "secrets.get", [name]) }),
    kv: Object.freeze({ get: kv("get"), set: kv("set"), delete: kv("delete"), list: kv("list") }),
    fetch: async (input: unknown, init?: unknown) => {
      const url = input instanceof URL ? input.href : input;
      const result = (await call(id, "fetch", [url, await plainInit(init)])) as FetchResult;
      return toResponse(result);
    },
    log: Object.freeze({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }),
  });
}

// A RequestInit as plain data IPC can carry: method, headers as pairs, body as a string or bytes.
async function plainInit(init: unknown): Promise<object> {
  if (init === undefined || init === null) return {};
  const i = init as { method?: unknown; headers?: unknown; body?: unknown };
  const headers =
    i.headers === undefined
      ? undefined
      : [...new Headers(i.headers as ConstructorParameters<typeof Headers>[0]).entries()];
  let body: string | Uint8Array | undefined;
  if (typeof i.body === "string" || i.body === undefined || i.body === null) body = i.body ?? undefined;
  else if (i.body instanceof URLSearchParams) body = i.body.toString();
  else if (i.body instanceof ArrayBuffer || ArrayBuffer.isView(i.body) || i.body instanceof Blob)
    body = new Uint8Array(
      await new Response(i.body as ConstructorParameters<typeof Response>[0]).arrayBuffer(),
    );
  else throw new TypeError("ctx.fetch: body must be a string, bytes, a Blob or URLSearchParams");
  return {
    ...(i.method === undefined ? {} : { method: String(i.method) }),
    ...(headers === undefined ? {} : { headers }),
    ...(body === undefined ? {} : { body }),
  };
}

const NULL_BODY = new Set([101, 204, 205, 304]);

function toResponse(r: FetchResult): Response {
  const response = new Response(NULL_BODY.has(r.status) ? null : r.body, {
    status: r.status,
    statusText: r.statusText,
    headers: r.headers,
  });
  Object.defineProperty(response, "url", { value: r.url });
  Object.defineProperty(response, "redirected", { value: r.redirected });
  return response;
}

// The host starts this process with an empty environment; bubblewrap adds PWD. Nothing reaches
// the function's code.
for (const name of Object.keys(process.env)) delete process.env[name];

// Node 26's fs.realpathSync walks the path without the permission model's read check, which tells
// whether a file outside the grant exists (CVE-2026-21715's sibling; test/permission-cves.ts). Until
// Node checks it, the runner does, before any function code loads.
const realpathSync = fs.realpathSync;
const guardedRealpath = Object.assign(
  (path: fs.PathLike, options?: fs.EncodingOption) => {
    const target = resolvePath(path instanceof URL ? fileURLToPath(path) : String(path));
    if (process.permission?.has("fs.read", target) === false) {
      throw Object.assign(new Error(`Access to this API has been restricted: realpath of "${target}"`), {
        code: "ERR_ACCESS_DENIED",
        permission: "FileSystemRead",
        resource: target,
      });
    }
    return realpathSync(path, options);
  },
  { native: realpathSync.native },
);
fs.realpathSync = guardedRealpath as typeof fs.realpathSync;
syncBuiltinESMExports();

const [bundle, functionName = "function", outputArg = "262144", tmpdir = ""] = process.argv.slice(2);
const outputBytes = Number(outputArg);
const MAX_LOG_MESSAGE = 8192;
// What the host reads of a stack (it keeps 20 frames of it at most).
const MAX_STACK = 16384;

// The result crosses IPC only when there is one, and only within the output limit.
function result(value: unknown): { value?: unknown } {
  if (value === undefined) return {};
  const json = JSON.stringify(value);
  if (json === undefined) return {};
  const size = Buffer.byteLength(json);
  if (size > outputBytes) {
    throw Object.assign(
      new Error(`the handler returned ${size} bytes, over the limit of ${outputBytes} (limits.outputBytes)`),
      {
        code: "PAL_RUNTIME_OUTPUT_TOO_LARGE",
      },
    );
  }
  return { value: JSON.parse(json) };
}

async function main(): Promise<void> {
  let handler: Handler;
  try {
    const mod = (await import(pathToFileURL(String(bundle)).href)) as { default?: unknown };
    if (typeof mod.default !== "function") {
      throw Object.assign(new Error("the handler module must export a function as its default export"), {
        code: "PAL_RUNTIME_BAD_HANDLER",
      });
    }
    handler = mod.default as Handler;
  } catch (err) {
    send({ t: "fatal", error: serialize(err) });
    return;
  }

  // Batches run strictly one event at a time, in order; a batch that arrives while one is running
  // waits its turn. `done` is sent per event at once, so the host can time each event on its own.
  const queue: InvokeItem[] = [];
  let running = false;
  async function drain(): Promise<void> {
    running = true;
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      const ctx = createContext(
        item.id,
        item.attempt,
        functionName,
        String((item.event as { id?: unknown }).id),
      );
      try {
        const value = await handler(Object.freeze(item.event), ctx);
        send({ t: "done", id: item.id, ok: true, ...result(value) });
      } catch (err) {
        send({ t: "done", id: item.id, ok: false, error: serialize(err) });
      }
    }
    running = false;
  }

  readHost((msg) => {
    if (msg.t === "reply") {
      const waiter = pending.get(msg.call);
      pending.delete(msg.call);
      if (msg.ok) waiter?.resolve(msg.value);
      else waiter?.reject(Object.assign(new Error(msg.error.message), msg.error));
      return;
    }
    if (msg.t !== "invoke") return;
    queue.push(...msg.items);
    if (!running) void drain();
  });
  // The host is gone (crashed, killed, or closed the channel): nothing can receive results, so stop.
  channel.on("end", () => process.exit(0));
  channel.on("error", () => process.exit(0));
  send({ t: "ready" });
}

await main();
