/**
 * Calls to the admin API. The session is an HttpOnly cookie the browser sends by itself (same origin
 * only); every state change is JSON and carries the session's CSRF token, which a page on another
 * site cannot read. Paths are relative to `/admin/v1`; callers encode any data they put in one.
 */
import type { LoginReply } from "./types.ts";

const BASE = "/admin/v1";
const CSRF_HEADER = "x-csrf-token";

/** A refused or failed call: the API's error code and its message, meant to be shown. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** `GET /admin/v1<path>`, parsed. */
export function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return call<T>(path, { method: "GET", credentials: "same-origin", ...(signal ? { signal } : {}) });
}

/** A state-changing call with the session's CSRF token; `body` is `{}` when there is nothing to send. */
export function sendJson<T>(
  method: "POST" | "DELETE",
  path: string,
  csrf: string,
  body: object = {},
): Promise<T> {
  return call<T>(path, {
    method,
    credentials: "same-origin",
    headers: { "content-type": "application/json", [CSRF_HEADER]: csrf },
    body: JSON.stringify(body),
  });
}

/** Trades an admin API key for a session cookie; the key is sent this once and not kept. */
export function logIn(apiKey: string): Promise<LoginReply> {
  return call<LoginReply>("/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: "{}",
  });
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${BASE}${path}`, init);
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "NETWORK", "The platform did not answer (is it running?)");
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.ok) return body as T;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  throw new ApiError(
    res.status,
    typeof error?.code === "string" ? error.code : `HTTP_${res.status}`,
    typeof error?.message === "string" ? error.message : `The platform answered ${res.status}`,
  );
}
