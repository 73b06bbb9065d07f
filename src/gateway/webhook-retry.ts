/**
 * Standard Webhooks idempotency: a `webhook-id` names one message, which a sender retries (same id,
 * same body, a fresh timestamp and signature) until it sees a 2xx. The replay window is the event
 * log itself: a webhook's event is stored under the webhook-id (deduped on principal, source and id
 * in the same durable write), carrying the SHA-256 of the raw body it came from. So an id counts as
 * seen only once its event was durably accepted (a crash before that leaves nothing, and the retry
 * is stored), on the embedded log and on NATS alike, across restarts and across gateways.
 */
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { PalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import { GATEWAY_WEBHOOK_REPLAY } from "./errors.ts";

/**
 * CloudEvents extension (spec §3.3; lower-case letters and digits, under 20 characters) a webhook's
 * event carries: the SHA-256 of the raw request body, hex. Only the webhook route writes events as
 * `webhook:<path>`, so no sender can set it on one.
 */
export const WEBHOOK_DIGEST_EXTENSION = "webhookbodysha256";

/** The stored copy of an earlier delivery, as far as telling a retry needs. */
export type StoredWebhook = Pick<CloudEvent, "data" | "extensions">;

/** The digest `WEBHOOK_DIGEST_EXTENSION` holds for `body`. */
export function webhookBodyDigest(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

/**
 * Whether a delivery (its raw body's `digest`, its parsed `data`) is a retry of a stored one: the same
 * bytes. An event stored before the digest was kept is compared by its data instead.
 */
export function isRetryOf(stored: readonly StoredWebhook[], digest: string, data: unknown): boolean {
  return stored.some((s) => {
    const kept = s.extensions?.[WEBHOOK_DIGEST_EXTENSION];
    return kept === undefined ? isDeepStrictEqual(s.data, data) : kept === digest;
  });
}

/**
 * Refuses (409) a delivery under webhook-id `id` that is not a retry of its `stored` copies: a
 * webhook-id names one message, so other content under it is a replay or a sender's bug.
 */
export function assertRetryOf(
  id: string,
  stored: readonly StoredWebhook[],
  digest: string,
  data: unknown,
): void {
  if (isRetryOf(stored, digest, data)) return;
  throw new PalisadeError(
    GATEWAY_WEBHOOK_REPLAY,
    `Webhook "${id}" was already received with other content; a webhook-id names one message: send other content under a new webhook-id`,
    { status: 409 },
  );
}
