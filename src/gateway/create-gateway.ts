/**
 * HTTP ingress. Threat model: every byte from the network is hostile. Bodies are size-capped before
 * parsing, decoded as strict UTF-8, depth-checked and parsed with prototype-poisoning protection
 * (parse-json-body.ts), then handed to the data path,
 * which validates envelope and data before anything is stored. Errors leave as `{ error }` bodies
 * with fixed public messages; internals go to the log only.
 * Not yet here (next slice): sender authentication, per-principal authorization and rate limits,
 * TLS termination. Until then bind the gateway to loopback only (the default).
 */

import type { IncomingHttpHeaders } from "node:http";
import Fastify, { LogController } from "fastify";
import { PalisadeError } from "../errors.ts";
import { type EventDraft, isBinaryMode, parseBatch, parseBinary, parseEvent } from "../events/index.ts";
import type { Logger } from "../observe/index.ts";
import { errorReply } from "./error-reply.ts";
import { GATEWAY_NOT_FOUND, GATEWAY_UNSUPPORTED_MEDIA } from "./errors.ts";
import { parseJsonBody } from "./parse-json-body.ts";

/** Largest accepted request body, as in EventBridge's 256 KB event limit. @default 262144 */
export const DEFAULT_BODY_LIMIT = 256 * 1024;

export interface GatewayOptions {
  /** The data path's ingress: validates, stores durably, resolves to the accepted ids. */
  ingest: (drafts: readonly EventDraft[], batch: boolean) => Promise<string[]>;
  logger: Logger;
  bodyLimit?: number;
}

/** Creates the Fastify app for the gateway routes; the caller decides where it listens. */
export function createGateway(options: GatewayOptions) {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "gateway" }),
    // Per-request lines would cost more than the request; outcomes are logged by the data path.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
  });
  // One defensive parser for every JSON body: plain, structured and batch mode, and binary mode
  // with JSON data. Other bodies stay bytes; only binary mode accepts them (as text data).
  app.removeAllContentTypeParsers();
  const parseJson = (
    _request: unknown,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  };
  app.addContentTypeParser([JSON_TYPE, STRUCTURED_TYPE, BATCH_TYPE], { parseAs: "buffer" }, parseJson);
  app.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: "buffer" }, parseJson);
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err, request, reply) => {
    const { status, body, internal } = errorReply(err);
    if (internal) request.log.error({ err }, "request failed");
    void reply.status(status).type("application/json").send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const message = `No route for ${request.method} ${request.url.split("?")[0]}`;
    void reply.status(404).send({ error: { code: GATEWAY_NOT_FOUND, message } });
  });

  app.post("/events", async (request, reply) => {
    const ids = await options.ingest(...readEvents(request.headers, request.body));
    return reply.status(202).send({ ids });
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  // The gateway listens only once every sandbox pool has started, so listening means ready;
  // while closing, Fastify answers 503 (return503OnClosing).
  app.get("/readyz", async () => ({ status: "ready" }));
  return app;
}

const JSON_TYPE = "application/json";
const STRUCTURED_TYPE = "application/cloudevents+json";
const BATCH_TYPE = "application/cloudevents-batch+json";

// CloudEvents HTTP binding §3: binary mode is told by its ce-* headers, structured and batch mode
// by the media type; plain JSON is the short `{ type, data }` form.
function readEvents(headers: IncomingHttpHeaders, body: unknown): [EventDraft[], boolean] {
  const mediaType = (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType === BATCH_TYPE) return [parseBatch(body), true];
  if (isBinaryMode(headers)) return [[parseBinary(headers, body)], false];
  if (Buffer.isBuffer(body) || (mediaType !== JSON_TYPE && mediaType !== STRUCTURED_TYPE)) {
    throw new PalisadeError(
      GATEWAY_UNSUPPORTED_MEDIA,
      `Unsupported Content-Type "${mediaType ?? ""}"; send ${STRUCTURED_TYPE}, ${BATCH_TYPE} or ${JSON_TYPE}, or binary mode with ce-* headers`,
      { status: 415 },
    );
  }
  return [[parseEvent(body)], false];
}
