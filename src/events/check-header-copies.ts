import { decodeHeader } from "./parse-binary.ts";
import { invalid } from "./parse-event.ts";

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Refuses a structured or batch request whose `ce-*` headers disagree with the event(s) in its body.
 * The HTTP binding (§3.2) lets a structured request carry copies of attributes as `ce-*` headers,
 * so an exact copy is accepted; but the body is the event, and a header that says otherwise (or
 * names an attribute the event lacks) would make a proxy or a log that reads headers see another
 * event than the one stored. In a batch a header must be a copy for every event. Values are not
 * quoted in the message: they are the sender's bytes and refusals are logged.
 */
export function checkHeaderCopies(headers: Headers, envelopes: readonly unknown[], batch: boolean): void {
  const failures: { pointer: string; message: string }[] = [];
  for (const [header, raw] of Object.entries(headers)) {
    if (!header.startsWith("ce-") || raw === undefined) continue;
    const name = header.slice(3);
    const value = decodeHeader(Array.isArray(raw) ? raw.join(",") : raw);
    for (const [i, envelope] of envelopes.entries()) {
      const attribute = (envelope as Record<string, unknown>)[name];
      if (value !== undefined && isScalar(attribute) && String(attribute) === value) continue;
      const at = batch ? `/${i}` : "";
      failures.push({
        pointer: `${at}/${name}`,
        message:
          attribute === undefined
            ? `is not in the event, but header "${header}" sets it; a structured request carries its event in the body: remove the header`
            : `differs from header "${header}"; a structured request carries its event in the body: remove the header or make it an exact copy`,
      });
      break;
    }
  }
  if (failures.length === 0) return;
  throw invalid(
    `Cannot accept event: ${failures.map((f) => `${f.pointer} ${f.message}`).join("; ")}`,
    failures,
  );
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}
