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

/**
 * A Standard Webhooks receiver: the signature is checked over the raw body bytes, the body becomes
 * the data of one `source.emit` event whose id is the webhook-id, so a replayed id (inside the
 * timestamp tolerance) is found in the log and refused with 409, durably, even across restarts.
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
        source: `palisade://webhooks${source.path}`,
        batch: false,
      });
      if (result?.duplicate) {
        throw new PalisadeError(
          GATEWAY_WEBHOOK_REPLAY,
          `Webhook "${id}" was already received; replays are refused`,
          { status: 409 },
        );
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
