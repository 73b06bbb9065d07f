/** How event data of a media type is carried: parsed JSON, or a string of text. */
export type DataKind = "json" | "text";

/**
 * Classifies a `datacontenttype` (RFC 6838 media type, parameters ignored): JSON and `+json` types
 * carry JSON; `text/*`, XML and `+xml` types carry a string. Anything else (binary data) is not
 * accepted: every event type is described by a JSON Schema, which cannot describe bytes.
 */
export function dataKind(mediaType: string): DataKind | undefined {
  const essence = mediaType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (essence === "application/json" || essence.endsWith("+json")) return "json";
  if (essence.startsWith("text/") || essence === "application/xml" || essence.endsWith("+xml")) return "text";
  return undefined;
}
