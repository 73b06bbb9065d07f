import { PalisadeError } from "../errors.ts";

/** What a `PalisadeClientError` carries besides its code and message. */
export interface ClientErrorInit {
  /** The HTTP status the gateway answered, or 0 when there was no answer (or nothing was sent). */
  readonly status: number;
  readonly retryable?: boolean;
  /** The gateway's `error.details` (for example one JSON Pointer per failing field). */
  readonly details?: unknown;
  /** The ids of the events of the failed request: send them again with these ids to stay idempotent. */
  readonly ids?: readonly string[];
  /** Requests made, retries included. */
  readonly attempts?: number;
  /** The wait the gateway asked for (`Retry-After`) when the last answer carried one. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/**
 * Why a send failed: the gateway's `code` and message as it sent them (`PAL_GATEWAY_*`, `PAL_EVENT_*`,
 * …), or a `PAL_CLIENT_*` code when the client refused or got no usable answer. Branch on `code`.
 */
export class PalisadeClientError extends PalisadeError {
  readonly ids: readonly string[];
  readonly attempts: number;

  constructor(code: string, message: string, init: ClientErrorInit) {
    super(code, message, {
      status: init.status,
      retryable: init.retryable ?? false,
      ...(init.details === undefined ? {} : { details: init.details }),
      ...(init.cause === undefined ? {} : { cause: init.cause }),
      ...(init.retryAfterMs === undefined ? {} : { retryAfterMs: init.retryAfterMs }),
    });
    this.name = "PalisadeClientError";
    this.ids = init.ids ?? [];
    this.attempts = init.attempts ?? 0;
  }
}
