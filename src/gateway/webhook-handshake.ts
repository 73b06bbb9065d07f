/**
 * The CloudEvents HTTP Webhook abuse-protection handshake (cloudevents/spec http-webhook.md §4):
 * before delivering, a sender asks `OPTIONS <path>` with `WebHook-Request-Origin` whether the
 * receiver wants its events (and may ask for a rate with `WebHook-Request-Rate`, per minute); the
 * receiver answers with `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate` (§4.2). Palisade answers
 * on `/events` and on every webhook path.
 *
 * Threat model: the handshake is unauthenticated by the spec and grants nothing here: every POST is
 * still authenticated (API key, JWT, mTLS or the webhook signature), so naming the asking origin is
 * safe. It goes through the same per-address admission as the POST routes. The allowed rate is the
 * limit the POSTs will meet: a webhook path's own; on `/events` each principal has its own, so it is
 * given to a sender that shows its credentials on the OPTIONS (checked as a POST's are) and otherwise
 * left out (the spec's SHOULD), unless the sender asked for a rate (then the spec's MUST applies, and
 * the handshake asks for the credentials rather than invent a number).
 * Not done: `WebHook-Request-Callback` (§4.1.3, the receiver confirming later by a GET or POST to a
 * URL the sender chose) is not followed: it would make the gateway fetch URLs any unauthenticated
 * caller names (server-side request forgery into the gateway's network); the synchronous answer
 * suffices, a callback being optional for receivers.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { PalisadeError } from "../errors.ts";
import { clientCertificate } from "./authenticate.ts";
import { GATEWAY_BAD_REQUEST, GATEWAY_UNAUTHENTICATED } from "./errors.ts";
import type { RouteDeps } from "./gateway-options.ts";
import { enforceClientAdmission } from "./rate-limit.ts";

/**
 * Registers the handshake on `path`. `principal` is the route's own sender (a webhook path's);
 * without it (`/events`), the sender's credentials on the OPTIONS, if any, say whose rate to answer.
 */
export function registerHandshake(
  app: FastifyInstance,
  path: string,
  deps: RouteDeps,
  principal?: string,
): void {
  app.options(path, async (request, reply) => {
    const limited = enforceClientAdmission(deps, request.ip);
    if (limited !== undefined) await limited;
    const origin = requestOrigin(request.headers, path);
    const asked = requestedRate(request.headers);
    const sender = principal ?? (await credentialed(request, deps));
    if (sender === undefined && asked !== undefined)
      throw new PalisadeError(
        GATEWAY_UNAUTHENTICATED,
        `OPTIONS ${path} with WebHook-Request-Rate needs the credentials the deliveries will carry (Authorization header or client certificate): each principal has its own rate`,
        { status: 401 },
      );
    void reply.header("allow", "POST, OPTIONS").header("webhook-allowed-origin", origin);
    if (sender !== undefined) {
      deps.principals.set(request, sender);
      // The limit is per second with a burst; the spec counts requests per minute.
      const perMinute = Math.max(1, Math.floor(deps.principalLimit(sender).perSecond * 60));
      void reply.header("webhook-allowed-rate", String(Math.min(asked ?? perMinute, perMinute)));
    }
    return reply.status(200).send();
  });
}

function requestOrigin(headers: IncomingHttpHeaders, path: string): string {
  const value = single(headers["webhook-request-origin"])?.trim();
  // Echoed in a response header: printable ASCII without spaces only, as a DNS expression is.
  if (value === undefined || !/^[\x21-\x7e]{1,255}$/.test(value))
    throw new PalisadeError(
      GATEWAY_BAD_REQUEST,
      `OPTIONS ${path} is the CloudEvents webhook handshake: send a WebHook-Request-Origin header naming the sender's system (at most 255 printable characters, no spaces), e.g. "events.example.com"`,
      { status: 400 },
    );
  return value;
}

/** `WebHook-Request-Rate` (§4.1.4): a positive integer, requests per minute; undefined when absent. */
function requestedRate(headers: IncomingHttpHeaders): number | undefined {
  const value = single(headers["webhook-request-rate"])?.trim();
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,9}$/.test(value))
    throw new PalisadeError(
      GATEWAY_BAD_REQUEST,
      `WebHook-Request-Rate must be a positive integer (requests per minute), got "${value.slice(0, 32)}"`,
      { status: 400 },
    );
  return Number(value);
}

/** The principal whose credentials the request carries; undefined when it carries none (then no 401). */
async function credentialed(request: FastifyRequest, deps: RouteDeps): Promise<string | undefined> {
  const authorization = single(request.headers.authorization);
  const certificate = clientCertificate(request.raw.socket);
  if (authorization === undefined && certificate?.authorized !== true) return undefined;
  return deps.authenticate(authorization, certificate);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
