/**
 * A function's log lines are its output, so they are input to the host: the host owns the fields
 * that say what a line is (level, time, message, function, event, trace), bounds each line's size
 * (`limits.logLineBytes`) and the function's line rate (`limits.logsPerSecond`), and counts what it
 * cut or dropped. A function cannot forge a host field, not even by a duplicate JSON key in the
 * written line: its own fields with those names are kept, renamed with the prefix "fn.".
 */
import type { Limits } from "../manifest/index.ts";
import { checkData } from "./check-data.ts";
import type { FunctionLog } from "./sandbox-pool.ts";

/** Names the host writes on every line (pino's level/time/msg, the host labels, common host keys). */
export const HOST_LOG_FIELDS: ReadonlySet<string> = new Set([
  "level",
  "time",
  "msg",
  "pid",
  "hostname",
  "host",
  "fn",
  "eventId",
  "traceId",
]);

/** Why a line was cut or dropped: its message or fields were too big, fields not plain data, or rate. */
export type LogLimitReason = "size" | "fields" | "rate";

/**
 * Wraps `log` for one function with `limits`. `onLimited` hears of every cut or dropped line; once a
 * second at most, a host line reports how many were dropped for the rate (its timer is unref'd: it
 * never keeps the process alive).
 */
export function guardFunctionLog(
  log: FunctionLog,
  fn: string,
  limits: Pick<Limits, "logLineBytes" | "logsPerSecond">,
  onLimited: (reason: LogLimitReason) => void,
): FunctionLog {
  const rate = createBucket(limits.logsPerSecond);
  let dropped = 0;
  let reporting = false;
  const flush = () => {
    reporting = false;
    log(fn, undefined, "warn", `dropped ${dropped} log lines over limits.logsPerSecond`, {
      dropped,
      logsPerSecond: limits.logsPerSecond,
    });
    dropped = 0;
  };
  return (name, eventId, level, message, fields, traceparent, type) => {
    if (!rate()) {
      dropped++;
      onLimited("rate");
      if (!reporting) {
        reporting = true;
        setTimeout(flush, 1000).unref();
      }
      return;
    }
    const line = boundLine(message, fields, limits.logLineBytes, onLimited);
    log(name, eventId, level, line.message, line.fields, traceparent, type);
  };
}

/** The message cut to its share of `max` bytes and the fields, or a note in their place. */
function boundLine(
  message: string,
  raw: Record<string, unknown>,
  max: number,
  onLimited: (reason: LogLimitReason) => void,
): { message: string; fields: Record<string, unknown> } {
  let text = message;
  const bytes = Buffer.byteLength(text);
  if (bytes > max / 2) {
    onLimited("size");
    text = `${Buffer.from(text)
      .subarray(0, max / 2)
      .toString()}… [cut from ${bytes} bytes]`;
  }
  let fields: Record<string, unknown>;
  let size: number;
  try {
    checkData(raw, "fields");
    fields = hostOwned(raw);
    size = Buffer.byteLength(JSON.stringify(fields));
  } catch (err) {
    onLimited("fields");
    return { message: text, fields: { fieldsRefused: (err as Error).message.slice(0, 200) } };
  }
  if (size + Buffer.byteLength(text) <= max) return { message: text, fields };
  onLimited("size");
  return { message: text, fields: { fieldsCut: size, logLineBytes: max } };
}

/** `fields` with every key the host writes itself renamed "fn.<key>". */
function hostOwned(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields))
    out[HOST_LOG_FIELDS.has(key) ? `fn.${key}` : key] = value;
  return out;
}

/** A token bucket of `perSecond` tokens, refilled continuously; true when a token was taken. */
function createBucket(perSecond: number): () => boolean {
  let tokens = perSecond;
  let last = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(perSecond, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}
