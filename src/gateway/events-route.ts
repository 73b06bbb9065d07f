import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance } from "fastify";
import { PalisadeError } from "../errors.ts";
import {
  BATCH_MEDIA_TYPE,
  checkHeaderCopies,
  contentMode,
  type EventDraft,
  parseBatch,
  parseBinary,
  parseEvent,
  STRUCTURED_MEDIA_TYPE,
} from "../events/index.ts";
import type { SourceSpec } from "../manifest/index.ts";
import { clientCertificate } from "./authenticate.ts";
import { addBodyParsers, rawBodies } from "./body-parsers.ts";
import { GATEWAY_UNSUPPORTED_MEDIA } from "./errors.ts";
import type { RouteDeps } from "./gateway-options.ts";
import { enforceClientAdmission, enforcePrincipalAdmission, enforceRateLimit } from "./rate-limit.ts";
import { stringFormAt } from "./string-form-at.ts";
import { verifySigned } from "./verify-signed.ts";

/**
 * The CloudEvents intake at `source.path`: rate-limit the address, authenticate (before the body is
 * read), parse the binding, rate-limit the principal per event, hand over to the data path.
 */
export function registerEventsRoute(
  app: FastifyInstance,
  source: Extract<SourceSpec, { kind: "http" }>,
  deps: RouteDeps,
): void {
  void app.register(async (scope) => {
    addBodyParsers(scope, {
      json: true,
      stringFormAt: (request) => stringFormAt(deps.acceptsString, request.headers),
    });
    scope.addHook("onRequest", async (request) => {
      const limited = enforceClientAdmission(deps, request.ip);
      if (limited !== undefined) await limited;
      deps.principals.set(
        request,
        await deps.authenticate(request.headers.authorization, clientCertificate(request.raw.socket)),
      );
    });
    scope.post(source.path, { bodyLimit: source.maxBodyBytes }, async (request, reply) => {
      const principal = deps.principals.get(request) ?? "";
      const [parsed, batch] = readEvents(request.headers, request.body);
      // Before anything reads the events: a signing principal's must verify over the bytes sent.
      const read = await verifySigned(
        principal,
        parsed,
        {
          mode: contentMode(request.headers),
          body: request.body,
          raw: Buffer.isBuffer(request.body) ? request.body : rawBodies.get(request),
          headers: request.headers,
        },
        deps.signing?.(principal),
        deps.verifyEvents,
      );
      const drafts = withRequestTrace(read, request.headers);
      enforcePrincipalAdmission(deps, principal);
      const limit = deps.principalLimit(principal);
      const limited = enforceRateLimit(
        deps.rateLimits,
        `principal:${principal}`,
        limit,
        Math.max(1, drafts.length),
        `principal "${principal}"`,
      );
      if (limited !== undefined) await limited;
      const results = await deps.ingest(drafts, {
        principal,
        source: `palisade://gateway${source.path}`,
        batch,
      });
      deps.metrics.ingressAccepted.inc({ source: source.path }, results.length);
      const ids = results.map((r) => r.id);
      deps.onAccepted?.({
        principal,
        ip: request.ip,
        route: source.path,
        events: results.length,
        ids,
        types: drafts.map((d) => d.type),
      });
      return reply.status(202).send({ ids });
    });
  });
}

// Longest traceparent and tracestate headers taken: a later version's traceparent may be longer than
// version 00's 55 characters (W3C Trace Context, "Versioning of traceparent"), and the propagator
// keeps at most 512 characters of a tracestate ("tracestate Limits").
const MAX_TRACEPARENT = 256;
const MAX_TRACESTATE = 8192;

/**
 * W3C Trace Context: the request's `traceparent` (and its `tracestate`, as the event's extension)
 * continues the sender's trace in every event that names no trace of its own (the CloudEvents
 * distributed-tracing extension). The data path reads them with the W3C propagator: an invalid pair
 * starts a new trace, and its tracestate is dropped.
 */
function withRequestTrace(read: EventDraft[], headers: IncomingHttpHeaders): EventDraft[] {
  const traceparent = headers.traceparent;
  if (typeof traceparent !== "string" || traceparent.length > MAX_TRACEPARENT) return read;
  // Repeated tracestate headers are one list (RFC 9110 §5.3; Node joins them with ", ").
  const tracestate = headers.tracestate;
  const state =
    typeof tracestate === "string" && tracestate.length <= MAX_TRACESTATE ? tracestate : undefined;
  return read.map((d) => {
    if (d.traceparent !== undefined) return d;
    // The header pair is the context: a tracestate the event carried without a traceparent is none.
    const { extensions: sent, ...rest } = d;
    const { tracestate: _alone, ...extensions } = sent ?? {};
    if (state !== undefined) extensions.tracestate = state;
    return Object.keys(extensions).length === 0
      ? { ...rest, traceparent }
      : { ...rest, traceparent, extensions };
  });
}

// CloudEvents HTTP binding §3: the Content-Type tells structured and batch mode; any other request
// with ce-* headers is binary; plain JSON is the short `{ type, data }` form.
function readEvents(headers: IncomingHttpHeaders, body: unknown): [EventDraft[], boolean] {
  const mode = contentMode(headers);
  if (mode === "batch") {
    const drafts = parseBatch(body);
    checkHeaderCopies(headers, body as unknown[], true);
    return [drafts, true];
  }
  if (mode === "binary") return [[parseBinary(headers, body)], false];
  if (mode === undefined || Buffer.isBuffer(body)) {
    const mediaType = (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    throw new PalisadeError(
      GATEWAY_UNSUPPORTED_MEDIA,
      `Unsupported Content-Type "${mediaType}"; send ${STRUCTURED_MEDIA_TYPE}, ${BATCH_MEDIA_TYPE} or application/json, or binary mode with ce-* headers`,
      { status: 415 },
    );
  }
  const draft = parseEvent(body);
  if (mode === "structured") checkHeaderCopies(headers, [body], false);
  return [[draft], false];
}
