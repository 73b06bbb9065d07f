/**
 * The function side of the sandbox: runs inside a child process started with Node's permission model
 * (see sandbox-process.ts). Loads one bundle, then serves invocations one at a time, in the order the host sent them. Every capability
 * is a message to the host, which decides; this file holds no authority of its own.
 *
 * Self-contained on purpose: the process may read only the bundle, so it imports nothing but node:*
 * at run time (type imports are erased by type stripping and never read).
 */
import { pathToFileURL } from "node:url";
import type { HostMessage, InvokeItem } from "./protocol.ts";

type Reply = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
type Handler = (event: unknown, ctx: unknown) => unknown;

const send = (msg: object): void => {
  process.send?.(msg);
};
const pending = new Map<number, Reply>();
let nextCall = 1;

function serialize(err: unknown): { code: string; message: string; retryable: boolean } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      code: typeof code === "string" ? code : "PAL_RUNTIME_HANDLER_ERROR",
      message: err.message,
      retryable: true,
    };
  }
  return { code: "PAL_RUNTIME_HANDLER_ERROR", message: String(err), retryable: true };
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
    send({ t: "log", id, level, message: String(message), fields: plain(fields) });
  return Object.freeze({
    functionName,
    attempt,
    // The same for every attempt of this delivery: handlers key their side effects on it.
    idempotencyKey: `${eventId}:${functionName}`,
    emit: (type: unknown, data: unknown) => call(id, "emit", [type, data]),
    log: Object.freeze({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }),
  });
}

async function main(): Promise<void> {
  const [bundle, functionName = "function"] = process.argv.slice(2);
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
        await handler(Object.freeze(item.event), ctx);
        send({ t: "done", id: item.id, ok: true });
      } catch (err) {
        send({ t: "done", id: item.id, ok: false, error: serialize(err) });
      }
    }
    running = false;
  }

  process.on("message", (msg: HostMessage) => {
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
  // The host is gone (crashed or killed): nothing can receive results, so stop.
  process.on("disconnect", () => process.exit(0));
  send({ t: "ready" });
}

await main();
