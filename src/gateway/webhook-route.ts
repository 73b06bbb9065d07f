import { isDeepStrictEqual } from "node:util";
import type { FastifyInstance } from "fastify";
import { PalisadeError } from "../errors.ts";
import type { SourceSpec } from "../manifest/index.ts";
import { addBodyParsers } from "./body-parsers.ts";
import { GATEWAY_WEBHOOK_REPLAY } from "./errors.ts";
import type { RouteDeps } from "./gateway-options.ts";
import { parseJsonBody } from "./parse-json-body.ts";
import { enforceClientAdmission, enforceRateLimit } from "./rate-limit.ts";
import { stringFormAt } from "./string-form-at.ts";
import { verifyWebhook } from "./verify-webhook.ts";

/** Principal name of a webhook source: the route it arrives on. */
export function webhookPrincipal(path: string): string {
  return `webhook:${path}`;
}

/** CloudEvents `source` of the events a webhook route stores. */
function webhookSource(path: string): string {
  return `palisade://webhooks${path}`;
}

/**
 * A Standard Webhooks receiver: the signature is checked over the raw body bytes, the body becomes
 * the data of one `source.emit` event whose id is the webhook-id, so a repeated id (inside the
 * timestamp tolerance) is found in the log, durably, even across restarts: a retry (same content) is
 * acknowledged without storing it again, other content under a used id is refused with 409.
 */
export function registerWebhookRoute(
  app: FastifyInstance,
  source: Extract<SourceSpec, { kind: "webhook" }>,
  deps: RouteDeps,
): void {
  const principal = webhookPrincipal(source.path);
  void app.register(async (scope) => {
    addBodyParsers(scope, { json: false });
    scope.addHook("onRequest", async (request) => {
      const limited = enforceClientAdmission(deps, request.ip);
      if (limited !== undefined) await limited;
    });
    scope.post(source.path, { bodyLimit: source.maxBodyBytes }, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const header = (name: string) => {
        const v = request.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const signed = {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
      };
      const id = verifyWithAny(signed, deps.secret(source.secret), source.toleranceSec);
      deps.principals.set(request, principal);
      const limited = enforceRateLimit(
        deps.rateLimits,
        `principal:${principal}`,
        deps.principalLimit(principal),
        1,
        `webhook ${source.path}`,
      );
      if (limited !== undefined) await limited;
      const data = parseJsonBody(body, {
        stringFormAt: stringFormAt(deps.acceptsString, request.headers, source.emit),
      });
      const [result] = await deps.ingest([{ type: source.emit, id, data }], {
        principal,
        source: webhookSource(source.path),
        batch: false,
      });
      if (result?.duplicate) {
        // Standard Webhooks: a sender retries a delivery it saw no answer to with the same id and
        // body; that one is acknowledged (it is stored, once) so the sender stops. The same id on
        // other content is a replay or a sender's bug, and is refused.
        const stored = (await deps.storedData?.(id, principal, webhookSource(source.path))) ?? [];
        if (!stored.some((d) => isDeepStrictEqual(d, data)))
          throw new PalisadeError(
            GATEWAY_WEBHOOK_REPLAY,
            `Webhook "${id}" was already received with other content; a webhook-id names one message, so send a new message with a new id`,
            { status: 409 },
          );
        return reply.status(202).send({ ids: [id], duplicate: true });
      }
      deps.metrics.ingressAccepted.inc({ source: source.path });
      deps.onAccepted?.({
        principal,
        ip: request.ip,
        route: source.path,
        events: 1,
        ids: [id],
        types: [source.emit],
      });
      return reply.status(202).send({ ids: [id] });
    });
  });
}

// During a secret rotation both the new and the previous secret sign validly.
function verifyWithAny(
  signed: Parameters<typeof verifyWebhook>[0],
  secrets: readonly string[],
  toleranceSec: number,
): string {
  let first: unknown;
  for (const secret of secrets) {
    try {
      return verifyWebhook(signed, secret, toleranceSec, Math.floor(Date.now() / 1000));
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}
