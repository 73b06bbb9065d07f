/**
 * The routes every role serves on its port (DESIGN §6): `/healthz` (the process is up), `/readyz`
 * (it can do its work now: 503 with the reason while, say, its broker is unreachable) and `/metrics`
 * (behind a credential unless `metrics.public`: the guard says who may read it). A worker, which
 * has no ingress, serves only these (`createOpsServer`).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Logger, Metrics } from "../observe/index.ts";
import { errorReply } from "./error-reply.ts";
import { GATEWAY_NOT_FOUND } from "./errors.ts";

/** Why the process cannot do its work now, or undefined when it can. */
export type Readiness = () => string | undefined;

/** Refuses a request for `/metrics` that may not read it (throws a 401 or 403 PalisadeError). */
export type MetricsGuard = (request: FastifyRequest) => Promise<void>;

/** Registers `/healthz`, `/readyz` and `/metrics` on `app`. */
export function registerOpsRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  readiness?: Readiness,
  metricsGuard?: MetricsGuard,
): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  // Listening means every part started; while closing, Fastify answers 503 (return503OnClosing).
  app.get("/readyz", async (_request, reply) => {
    const notReady = readiness?.();
    if (notReady === undefined) return { status: "ready" };
    return reply.status(503).header("retry-after", "1").send({ status: "not ready", reason: notReady });
  });
  app.get("/metrics", async (request, reply) => {
    await metricsGuard?.(request);
    return reply
      .type(metrics.registry.contentType)
      .header("cache-control", "no-store")
      .send(await metrics.registry.metrics());
  });
}

/** An HTTP server with only the operations routes, for a role without ingress (`palisade worker`). */
export function createOpsServer(options: {
  metrics: Metrics;
  logger: Logger;
  readiness?: Readiness;
  metricsGuard?: MetricsGuard;
}) {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "ops" }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
  registerOpsRoutes(app, options.metrics, options.readiness, options.metricsGuard);
  app.setErrorHandler((err, request, reply) => {
    const { status, body, internal } = errorReply(err);
    if (internal) request.log.error({ err }, "request failed");
    if (status === 401) void reply.header("www-authenticate", "Bearer");
    void reply.status(status).type("application/json").send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const message = `No route for ${request.method} ${request.url.split("?")[0]}: a worker serves only /healthz, /readyz and /metrics`;
    void reply.status(404).send({ error: { code: GATEWAY_NOT_FOUND, message } });
  });
  return app;
}
