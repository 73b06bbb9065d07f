/**
 * HTTP ingress. Threat model: every byte from the network is hostile. Per source route, in order:
 * a per-address rate limit, sender authentication (API key, JWT or webhook signature), a body size
 * cap, strict UTF-8 + depth-limited + prototype-poisoning-safe JSON parsing that refuses numbers it
 * would round (parse-json-body.ts), the CloudEvents HTTP binding, a per-principal rate limit; then
 * the data path authorizes and validates before anything is stored. Every refusal is a precise 4xx,
 * a metric, a log line (principal, address, reason; never the credential, and parse errors never
 * quote the body) and an audit record (repeats merged into one counted record by the audit log).
 * TLS and mTLS are served when configured. Not protected here: floods of log lines (one per refusal).
 */
import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import Fastify, { LogController } from "fastify";
import { errorReply } from "./error-reply.ts";
import { GATEWAY_NOT_FOUND, GATEWAY_RATE_LIMITED } from "./errors.ts";
import { createEventVerifier } from "./event-verifier.ts";
import { registerEventsRoute } from "./events-route.ts";
import type { GatewayOptions } from "./gateway-options.ts";
import { registerOpsRoutes } from "./ops-routes.ts";
import { registerHandshake } from "./webhook-handshake.ts";
import { registerWebhookRoute, webhookPrincipal } from "./webhook-route.ts";

/** Creates the Fastify app with every source route; the caller decides where it listens. */
export function createGateway(options: GatewayOptions) {
  const { tls } = options;
  // Client certificates are requested but not required: other principals use bearer tokens, and an
  // unverified certificate authenticates nothing (authenticate.ts checks socket.authorized).
  const https = tls && {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
  };
  const app = Fastify({
    ...(https ? { https } : {}),
    // pino's Logger and Fastify's logger type differ only in generics; the instance is pino's.
    loggerInstance: options.logger.child({ component: "gateway" }) as unknown as FastifyBaseLogger,
    // Per-request lines would cost more than the request; refusals are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
  app.removeAllContentTypeParsers();
  const principals = new WeakMap<FastifyRequest, string>();
  // Producer-signed events are verified in batches on a worker thread, started at the first one.
  const verifyEvents = createEventVerifier();
  app.addHook("onClose", () => verifyEvents.close());
  const deps = { ...options, principals, verifyEvents };

  app.setErrorHandler((err, request, reply) => {
    const { status, body, internal } = errorReply(err);
    if (internal) request.log.error({ err }, "request failed");
    else {
      options.metrics.ingressRejected.inc({ reason: rejectionReason(status), code: body.error.code, status });
      const principal = principals.get(request);
      const fields = {
        reason: body.error.code,
        status,
        ip: request.ip,
        route: request.routeOptions.url,
        principal,
      };
      options.logger.warn(fields, `ingress refused: ${body.error.message}`);
      // Every refusal, 429s included: the audit log merges repeats into counted records.
      options.onRejected?.({
        reason: rejectionReason(status),
        code: body.error.code,
        status,
        ip: request.ip,
        route: request.routeOptions.url,
        principal,
      });
    }
    if (status === 401) void reply.header("www-authenticate", "Bearer");
    // Rate limits, and a store that is unavailable for now (503), say when to try again.
    const retryAfterSec = (body.error.details as { retryAfterSec?: unknown } | undefined)?.retryAfterSec;
    if (body.error.code === GATEWAY_RATE_LIMITED || typeof retryAfterSec === "number")
      void reply.header("retry-after", String(retryAfterSec));
    void reply.status(status).type("application/json").send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const message = `No route for ${request.method} ${request.url.split("?")[0]}`;
    void reply.status(404).send({ error: { code: GATEWAY_NOT_FOUND, message } });
  });

  for (const source of options.sources) {
    if (source.kind === "http") {
      registerEventsRoute(app, source, deps);
      registerHandshake(app, source.path, deps);
    } else if (source.kind === "webhook") {
      registerWebhookRoute(app, source, deps);
      registerHandshake(app, source.path, deps, webhookPrincipal(source.path));
    }
    // schedule sources have no route: the scheduler in bus/ emits them.
  }
  // The gateway listens only once every sandbox pool has started, so listening means ready unless
  // the store says otherwise (a lost broker).
  registerOpsRoutes(app, options.metrics, options.readiness, options.metricsGuard);
  return app;
}

/** The `reason` label of palisade_ingress_rejected_total, by HTTP status. */
function rejectionReason(status: number): string {
  const reasons: Record<number, string> = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "replayed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
  };
  return reasons[status] ?? "invalid";
}
