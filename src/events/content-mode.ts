/** How a CloudEvents HTTP request carries its event(s), or `plain`: Palisade's short `{ type, data }` form. */
export type ContentMode = "structured" | "batch" | "binary" | "plain";

/** The structured-mode media type (JSON event format). */
export const STRUCTURED_MEDIA_TYPE = "application/cloudevents+json";
/** The batch-mode media type (JSON batch format). */
export const BATCH_MEDIA_TYPE = "application/cloudevents-batch+json";

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The content mode of a request (CloudEvents HTTP binding §3): the Content-Type decides, not the
 * `ce-*` headers. `application/cloudevents+json` is structured and `application/cloudevents-batch+json`
 * is batch, whatever headers come along; any other request carrying a `ce-*` header is binary; plain
 * `application/json` without one is the short form. Undefined for anything else (another event
 * format such as `application/cloudevents+xml`, or a non-JSON body without `ce-*` headers): a 415.
 */
export function contentMode(headers: Headers): ContentMode | undefined {
  const raw = headers["content-type"];
  const essence = (typeof raw === "string" ? raw : "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (essence === STRUCTURED_MEDIA_TYPE) return "structured";
  if (essence === BATCH_MEDIA_TYPE) return "batch";
  if (essence.startsWith("application/cloudevents")) return undefined;
  if (Object.keys(headers).some((name) => name.startsWith("ce-"))) return "binary";
  return essence === "application/json" ? "plain" : undefined;
}
