import { CLIENT_BAD_RESPONSE, CLIENT_NO_TOKEN, CLIENT_UNREACHABLE } from "./errors.ts";
import type { SendResult } from "./outgoing-event.ts";
import { PalisadeClientError } from "./palisade-client-error.ts";
import { backoffMs, MAX_RETRY_AFTER_MS, retryAfterMs } from "./retry-delay.ts";

/** How a client reaches the gateway. */
export interface Transport {
  readonly url: URL;
  readonly apiKey: string | undefined;
  readonly token: (() => string | Promise<string>) | undefined;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
}

/** One request's body, made once and sent unchanged on every attempt. */
export interface EventsRequest {
  readonly contentType: string;
  readonly body: string;
  readonly ids: readonly string[];
}

/**
 * POSTs the events, retrying on no answer, `429` and `5xx` (after `Retry-After`, else exponential
 * backoff with full jitter) with the same bytes, hence the same event ids: the gateway stores a
 * repeated principal + source + id once, so a retry after a lost answer cannot duplicate an event.
 * Any other `4xx` is final. Redirects are never followed: the credential stays with the one origin.
 */
export async function postEvents(transport: Transport, request: EventsRequest): Promise<SendResult> {
  const attempts = transport.retries + 1;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce(transport, request, attempt);
    if ("result" in outcome) return outcome.result;
    const { error } = outcome;
    if (!error.retryable || attempt >= attempts) throw error;
    const asked = error.retryAfterMs;
    if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) throw error;
    await sleep(asked ?? backoffMs(attempt));
  }
}

type Outcome = { result: SendResult } | { error: PalisadeClientError };

async function attemptOnce(transport: Transport, request: EventsRequest, attempt: number): Promise<Outcome> {
  const headers: Record<string, string> = {
    "content-type": request.contentType,
    accept: "application/json",
  };
  const bearer = transport.apiKey ?? (await tokenOf(transport, request, attempt));
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  let response: Response;
  let text: string;
  try {
    response = await transport.fetch(transport.url, {
      method: "POST",
      headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(transport.timeoutMs),
    });
    text = await response.text();
  } catch (err) {
    const reason =
      (err as Error).name === "TimeoutError"
        ? `no answer within ${transport.timeoutMs} ms`
        : causeMessage(err);
    const message = `Cannot reach Palisade at ${transport.url.origin}: ${reason} (attempt ${attempt})`;
    return { error: failure(CLIENT_UNREACHABLE, message, request, attempt, { retryable: true, cause: err }) };
  }
  return readAnswer(response, text, request, attempt, transport.url);
}

function readAnswer(
  response: Response,
  text: string,
  request: EventsRequest,
  attempt: number,
  url: URL,
): Outcome {
  const status = response.status;
  const body = parseJson(text);
  if (status >= 200 && status < 300) {
    const ids = (body as { ids?: unknown } | undefined)?.ids;
    if (Array.isArray(ids) && ids.every((id) => typeof id === "string"))
      return { result: body as SendResult };
    return {
      error: badResponse(`answered ${status} without the ids of the events`, url, request, attempt, status),
    };
  }
  const retryable = status === 429 || status >= 500;
  const wait = retryable ? retryAfterMs(response.headers.get("retry-after")) : undefined;
  const extra = { status, retryable, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
  if (status >= 300 && status < 400)
    return {
      error: badResponse(
        `answered ${status} (a redirect, not followed); point url at the gateway itself`,
        url,
        request,
        attempt,
        status,
      ),
    };
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (typeof error?.code !== "string" || typeof error.message !== "string")
    return {
      error: failure(
        CLIENT_BAD_RESPONSE,
        `${url.origin} answered ${status} with a body that is not Palisade's error`,
        request,
        attempt,
        extra,
      ),
    };
  return {
    error: failure(error.code, error.message, request, attempt, {
      ...extra,
      ...(error.details === undefined ? {} : { details: error.details }),
    }),
  };
}

async function tokenOf(
  transport: Transport,
  request: EventsRequest,
  attempt: number,
): Promise<string | undefined> {
  if (transport.token === undefined) return undefined;
  let token: unknown;
  try {
    token = await transport.token();
  } catch (err) {
    throw failure(CLIENT_NO_TOKEN, `The token provider failed: ${causeMessage(err)}`, request, attempt, {
      cause: err,
    });
  }
  if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token))
    throw failure(
      CLIENT_NO_TOKEN,
      "The token provider gave no token (expected a non-empty string without spaces)",
      request,
      attempt,
      {},
    );
  return token;
}

function failure(
  code: string,
  message: string,
  request: EventsRequest,
  attempt: number,
  extra: { status?: number; retryable?: boolean; details?: unknown; retryAfterMs?: number; cause?: unknown },
): PalisadeClientError {
  return new PalisadeClientError(code, message, { status: 0, ...extra, ids: request.ids, attempts: attempt });
}

function badResponse(what: string, url: URL, request: EventsRequest, attempt: number, status: number) {
  return failure(CLIENT_BAD_RESPONSE, `${url.origin} ${what}`, request, attempt, { status });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// fetch reports a refused connection as "fetch failed" with the reason in `cause`.
function causeMessage(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
