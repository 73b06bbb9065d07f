/**
 * The CloudEvents HTTP Webhook abuse-protection handshake (cloudevents/spec http-webhook.md §4.1):
 * before delivering, a sender asks `OPTIONS <path>` with `WebHook-Request-Origin` whether the
 * receiver wants its events, and the receiver answers with `WebHook-Allowed-Origin` (and may give
 * `WebHook-Allowed-Rate`, requests per minute). Palisade answers on `/events` and on every webhook
 * path. The answer grants nothing: every POST is still authenticated (API key, JWT, mTLS or the
 * webhook signature), so naming the asking origin is safe. `WebHook-Request-Callback` (§4.1.2, the
 * receiver confirming later by a GET to a URL the sender chose) is not followed: it would make the
 * gateway fetch arbitrary URLs (server-side request forgery); the synchronous answer (§4.1.3)
 * suffices for every sender, the spec's callback being optional for receivers.
 */
import type { FastifyInstance } from "fastify";
import { PalisadeError } from "../errors.ts";
import type { RateLimit } from "../manifest/index.ts";
import { GATEWAY_BAD_REQUEST } from "./errors.ts";

/** Registers the handshake on `path`; `rate` is the route's own limit when it has one (a webhook's). */
export function registerHandshake(app: FastifyInstance, path: string, rate?: RateLimit): void {
  app.options(path, async (request, reply) => {
    const origin = request.headers["webhook-request-origin"];
    const value = Array.isArray(origin) ? origin[0] : origin;
    if (value === undefined || value.trim() === "" || !/^[\x21-\x7e]{1,255}$/.test(value.trim()))
      throw new PalisadeError(
        GATEWAY_BAD_REQUEST,
        `OPTIONS ${path} is the CloudEvents webhook handshake: send a WebHook-Request-Origin header naming the sender's host (at most 255 printable characters)`,
        { status: 400 },
      );
    void reply.header("allow", "POST, OPTIONS").header("webhook-allowed-origin", value.trim());
    // Per minute, as the spec counts; a route without one limit (each principal has its own) says none.
    if (rate !== undefined)
      void reply.header("webhook-allowed-rate", String(Math.max(1, Math.floor(rate.perSecond * 60))));
    return reply.status(200).send();
  });
}
