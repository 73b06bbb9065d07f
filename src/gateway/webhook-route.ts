import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SourceSpec } from "../manifest/index.ts";
import { addBodyParsers } from "./body-parsers.ts";
import type { RouteDeps } from "./gateway-options.ts";
import { parseJsonBody } from "./parse-json-body.ts";
import { enforceClientAdmission, enforceRateLimit } from "./rate-limit.ts";
import { stringFormAt } from "./string-form-at.ts";
import { verifyWebhook } from "./verify-webhook.ts";
import { assertRetryOf, WEBHOOK_DIGEST_EXTENSION, webhookBodyDigest } from "./webhook-retry.ts";

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
 * the data of one `source.emit` event whose id is the webhook-id, stored with the digest of the raw
 * body (webhook-retry.ts). A repeated id (inside the timestamp tolerance) is found in the log,
 * durably, even across restarts and gateways: a retry (the same bytes) is acknowledged as the first
 * delivery was, without storing it again; other content under a used id is refused with 409.
 */
export function registerWebhookRoute(
  app: FastifyInstance,
  source: Extract<SourceSpec, { kind: "webhook" }>,
  deps: RouteDeps,
): void {
  void app.register(async (scope) => {
    addBodyParsers(scope, { json: false });
    scope.addHook("onRequest", async (request) => {
      const limited = enforceClientAdmission(deps, request.ip);
      if (limited !== undefined) await limited;
    });
    scope.post(source.path, { bodyLimit: source.maxBodyBytes }, (request, reply) =>
      receive(request, reply, source, deps),
    );
  });
}

/** One delivery: verify, limit, parse, store durably (or tell a retry from a reuse of its id), answer. */
async function receive(
  request: FastifyRequest,
  reply: FastifyReply,
  source: Extract<SourceSpec, { kind: "webhook" }>,
  deps: RouteDeps,
) {
  const principal = webhookPrincipal(source.path);
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const id = verifyWithAny(signedParts(request, body), deps.secret(source.secret), source.toleranceSec);
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
  const digest = webhookBodyDigest(body);
  const extensions = { [WEBHOOK_DIGEST_EXTENSION]: digest };
  const [result] = await deps.ingest([{ type: source.emit, id, data, extensions }], {
    principal,
    source: webhookSource(source.path),
    batch: false,
  });
  if (result?.duplicate) {
    // Standard Webhooks: a sender retries a delivery it saw no answer to; acknowledged as the
    // first was (stored once) so the sender stops. Other content under the id is refused.
    const stored = (await deps.storedEvents?.(id, principal, webhookSource(source.path))) ?? [];
    assertRetryOf(id, stored, digest, data);
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
}

/** The parts of a request a Standard Webhooks signature covers, from its headers and raw body. */
function signedParts(request: FastifyRequest, body: Buffer): Parameters<typeof verifyWebhook>[0] {
  const header = (name: string) => {
    const v = request.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return {
    id: header("webhook-id"),
    timestamp: header("webhook-timestamp"),
    signature: header("webhook-signature"),
    body,
  };
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
