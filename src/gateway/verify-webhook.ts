import { createHmac, timingSafeEqual } from "node:crypto";
import { PalisadeError } from "../errors.ts";
import { GATEWAY_UNAUTHENTICATED } from "./errors.ts";

export interface WebhookRequest {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  body: Buffer;
}

/**
 * Verifies a Standard Webhooks signature: `webhook-signature` holds space-separated `v1,<base64>`
 * entries, each an HMAC-SHA256 of `id.timestamp.body` under the secret (`whsec_<base64>` or raw).
 * The timestamp must be within `toleranceSec` of `nowSec` either way, which bounds replays to that
 * window; replays inside it are caught by the webhook id (the caller's job).
 */
export function verifyWebhook(
  req: WebhookRequest,
  secret: string,
  toleranceSec: number,
  nowSec: number,
): string {
  const { id, timestamp, signature } = req;
  if (!id || !timestamp || !signature) {
    throw unauthenticated("Missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^[\x21-\x7e]{1,255}$/.test(id)) throw unauthenticated("Invalid webhook-id header");
  const ts = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  if (!Number.isFinite(ts) || Math.abs(nowSec - ts) > toleranceSec) {
    throw unauthenticated(`Webhook timestamp is missing or more than ${toleranceSec} s from now`);
  }
  const key = secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret);
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(req.body).digest();
  const valid = signature.split(" ").some((entry) => {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || value === undefined) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid) throw unauthenticated("Webhook signature does not match");
  return id;
}

function unauthenticated(message: string): PalisadeError {
  return new PalisadeError(GATEWAY_UNAUTHENTICATED, message, { status: 401 });
}
