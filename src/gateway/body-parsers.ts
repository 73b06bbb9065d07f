import type { FastifyInstance, FastifyRequest } from "fastify";
import { parseJsonBody, type StringFormCheck } from "./parse-json-body.ts";

/**
 * The raw bytes of each JSON request body a scope's parser decoded: a producer's signature covers
 * the bytes as sent (verify-signed.ts), not what parsing made of them. Held only as long as the request.
 */
export const rawBodies = new WeakMap<FastifyRequest, Buffer>();

/**
 * Installs the body parsers of one route scope: every JSON media type goes through the defensive
 * parser; any other body stays a Buffer for the route to judge (binary mode text data, webhooks).
 * `stringFormAt` tells the parser, per request, which event type's schema holds a refused number.
 */
export function addBodyParsers(
  scope: FastifyInstance,
  options: { json: boolean; stringFormAt?: (request: FastifyRequest) => StringFormCheck },
): void {
  scope.removeAllContentTypeParsers();
  if (options.json) {
    const { stringFormAt } = options;
    const parse = (
      request: FastifyRequest,
      body: string | Buffer,
      done: (err: Error | null, body?: unknown) => void,
    ) => {
      rawBodies.set(request, body as Buffer);
      try {
        done(
          null,
          parseJsonBody(body as Buffer, stringFormAt ? { stringFormAt: stringFormAt(request) } : {}),
        );
      } catch (err) {
        done(err as Error, undefined);
      }
    };
    scope.addContentTypeParser(
      ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"],
      { parseAs: "buffer" },
      parse,
    );
    scope.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: "buffer" }, parse);
  }
  scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
}
