import { INTERNAL, isPalisadeError, type PalisadeError } from "../errors.ts";
import { GATEWAY_BAD_REQUEST, GATEWAY_TOO_LARGE, GATEWAY_UNSUPPORTED_MEDIA } from "./errors.ts";

/** The body of every error answer (DESIGN §5). */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

// Fastify's own codes that can still reach us (body parsing is ours: parse-json-body.ts), mapped to
// our codes with a fixed public message.
const FASTIFY: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: GATEWAY_UNSUPPORTED_MEDIA,
    message: "Unsupported Content-Type; send application/cloudevents+json or application/json",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: GATEWAY_TOO_LARGE, message: "Request body is too large" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: GATEWAY_BAD_REQUEST,
    message: "Content-Length does not match the body",
  },
};

/**
 * Turns any error into a status and a client-safe body: a PalisadeError keeps its code, message and
 * details; a known framework error gets a fixed message; anything else is a bare 500 whose details
 * go only to the log. Never a stack trace.
 */
export function errorReply(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  // A 503 says the store is away for now (the client retries after Retry-After): a refusal that is
  // counted and audited like the others, not an internal error.
  if (isPalisadeError(err))
    return { status: err.status, body: bodyOf(err), internal: err.status >= 500 && err.status !== 503 };
  const code = (err as { code?: unknown } | null)?.code;
  const known = typeof code === "string" ? FASTIFY[code] : undefined;
  if (known) {
    return {
      status: known.status,
      body: { error: { code: known.code, message: known.message } },
      internal: false,
    };
  }
  const body = { error: { code: INTERNAL, message: "Internal error; see the server log" } };
  return { status: 500, body, internal: true };
}

function bodyOf(err: PalisadeError): ErrorBody {
  const error: ErrorBody["error"] = { code: err.code, message: err.message };
  if (err.details !== undefined) error.details = err.details;
  return { error };
}
