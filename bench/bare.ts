/**
 * The bare baseline server: Fastify with its default JSON parser and a `POST /events` route that
 * does nothing but answer 202. Also parses `application/cloudevents-batch+json` with that same parser
 * and echoes the batch's ids, so batch replies are as large as the platform's.
 */
import Fastify from "fastify";

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

const FIXED_ID = "00000000-0000-4000-8000-000000000000";

export async function startBare(): Promise<BareServer> {
  const app = Fastify({ logger: false });
  app.addContentTypeParser(
    "application/cloudevents-batch+json",
    { parseAs: "string" },
    app.getDefaultJsonParser("error", "error"),
  );
  app.post("/events", async (request, reply) => {
    const body = request.body;
    const ids = Array.isArray(body) ? body.map((e: { id?: unknown }) => String(e?.id)) : [FIXED_ID];
    return reply.status(202).send({ ids });
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, close: () => app.close() };
}
