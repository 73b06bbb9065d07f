/**
 * The routes every role serves on its port (DESIGN §6): `/healthz` (the process is up), `/readyz`
 * (it can do its work now: 503 with the reason while, say, its broker is unreachable) and `/metrics`.
 * A worker, which has no ingress, serves only these (`createOpsServer`).
 */
import type { FastifyInstance } from "fastify";
import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Logger, Metrics } from "../observe/index.ts";
import { GATEWAY_NOT_FOUND } from "./errors.ts";

/** Why the process cannot do its work now, or undefined when it can. */
export type Readiness = () => string | undefined;

/** Registers `/healthz`, `/readyz` and `/metrics` on `app`. */
export function registerOpsRoutes(app: FastifyInstance, metrics: Metrics, readiness?: Readiness): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  // Listening means every part started; while closing, Fastify answers 503 (return503OnClosing).
  app.get("/readyz", async (_request, reply) => {
    const notReady = readiness?.();
    if (notReady === undefined) return { status: "ready" };
    return reply.status(503).header("retry-after", "1").send({ status: "not ready", reason: notReady });
  });
  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}

/** An HTTP server with only the operations routes, for a role without ingress (`palisade worker`). */
export function createOpsServer(options: { metrics: Metrics; logger: Logger; readiness?: Readiness }) {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "ops" }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
  registerOpsRoutes(app, options.metrics, options.readiness);
  app.setNotFoundHandler((request, reply) => {
    const message = `No route for ${request.method} ${request.url.split("?")[0]}: a worker serves only /healthz, /readyz and /metrics`;
    void reply.status(404).send({ error: { code: GATEWAY_NOT_FOUND, message } });
  });
  return app;
}
