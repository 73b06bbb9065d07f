/**
 * The sandbox is untrusted, and so is every message it sends: the channel (fd 3) is in reach of the
 * function's code. Each message is checked against the protocol here before the host looks at it;
 * anything else is dropped (and the process killed by the caller).
 */
import type { LogLevel, SandboxMessage, SerializedError } from "./guest/protocol.ts";

const LEVELS = new Set<string>(["debug", "info", "warn", "error"]);
const MAX_TEXT = 8192;
const MAX_STACK = 16384;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** The message if it is one the protocol allows, else undefined. */
export function checkMessage(raw: unknown): SandboxMessage | undefined {
  if (!isObject(raw) || typeof raw.t !== "string") return undefined;
  switch (raw.t) {
    case "ready":
      return { t: "ready" };
    case "fatal":
      return { t: "fatal", error: checkError(raw.error) };
    case "log":
      if (!isId(raw.id) || typeof raw.level !== "string" || !LEVELS.has(raw.level)) return undefined;
      return {
        t: "log",
        id: raw.id,
        level: raw.level as LogLevel,
        message: String(raw.message ?? "").slice(0, MAX_TEXT),
        fields: isObject(raw.fields) ? raw.fields : {},
      };
    case "call":
      if (!isId(raw.id) || !isId(raw.call) || typeof raw.cap !== "string" || !Array.isArray(raw.args))
        return undefined;
      return { t: "call", id: raw.id, call: raw.call, cap: raw.cap.slice(0, 64), args: raw.args };
    case "done":
      if (!isId(raw.id)) return undefined;
      return raw.ok === true
        ? { t: "done", id: raw.id, ok: true, ...(raw.value === undefined ? {} : { value: raw.value }) }
        : { t: "done", id: raw.id, ok: false, error: checkError(raw.error) };
    default:
      return undefined;
  }
}

// A function's error keeps its message (capped) and a code only if it is shaped like one
// (ERR_ACCESS_DENIED, PAL_RUNTIME_DENIED passed through from the host, CARD_DECLINED). A function
// that claims a platform code only misfiles its own delivery.
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function checkError(raw: unknown): SerializedError {
  const e = isObject(raw) ? raw : {};
  const code = typeof e.code === "string" && CODE.test(e.code) ? e.code : "PAL_RUNTIME_HANDLER_ERROR";
  return {
    code,
    message: String(e.message ?? "the function failed").slice(0, MAX_TEXT),
    retryable: true,
    // Only a string, capped; failure-stack.ts decides what of it is kept.
    ...(typeof e.stack === "string" ? { stack: e.stack.slice(0, MAX_STACK) } : {}),
  };
}
