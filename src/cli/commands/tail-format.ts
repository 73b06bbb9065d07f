/**
 * One `palisade tail` line per stream item: time, kind, what it is about (type, function), id, and
 * the outcome or message. Items come from the gateway's admin stream (admin/event-stream.ts,
 * TailItem); anything unexpected in them is shown, never trusted to be well-formed, and control
 * characters (a function's log line could carry terminal escapes) are shown escaped.
 */

/** A stream item as it arrives: its kind and time, and the fields of that kind. */
export type TailLine = { readonly kind?: unknown; readonly at?: unknown } & Readonly<Record<string, unknown>>;

/** The text lines for `item` (an accepted request gives one line per event it carried). */
export function formatTailItem(item: TailLine): string {
  const f = (name: string): string => shown(item[name]);
  const at = typeof item.at === "number" ? new Date(item.at).toISOString() : "-";
  const line = (kind: string, about: string, id: string, rest: string) =>
    `${at}  ${kind.padEnd(8)}  ${about}  ${id}  ${rest}`.trimEnd();
  switch (item.kind) {
    case "accepted": {
      const ids = Array.isArray(item.ids) ? item.ids : [];
      const types = Array.isArray(item.types) ? item.types : [];
      const more = Number(item.events) - ids.length;
      const lines = ids.map((id, i) => line("event", shown(types[i]), shown(id), `from ${f("principal")}`));
      if (more > 0) lines.push(line("event", "…", "-", `and ${more} more in the same request`));
      return lines.map((l) => `${l}\n`).join("");
    }
    case "settled":
      return `${line("delivery", `${f("type")} → ${f("fn")}`, f("eventId"), settledText(item))}\n`;
    case "log":
      return `${line("log", f("fn"), item.eventId === undefined ? "-" : f("eventId"), `${f("level")}: ${f("message")}`)}\n`;
    case "emitted":
      return `${line("emitted", `${f("type")} ← ${f("fn")}`, f("id"), "")}\n`;
    case "denied":
      return `${line("denied", f("fn"), f("eventId"), `${f("capability")} ${f("target")}: ${f("reason")}`)}\n`;
    case "rejected":
      return `${line("rejected", f("code"), "-", `${f("status")} from ${f("ip")}: ${f("reason")}`)}\n`;
    case "finding":
      return `${line("finding", f("detector"), f("scope"), `${f("severity")}: ${f("summary")} (${f("response")})`)}\n`;
    case "held":
      return `${line("held", f("fn"), "-", f("hold"))}\n`;
    default:
      return `${line(shown(item.kind), "-", "-", JSON.stringify(item))}\n`;
  }
}

function settledText(item: TailLine): string {
  const parts = [`${shown(item.outcome)} (attempt ${shown(item.attempt)}`];
  if (typeof item.durationMs === "number") parts.push(`, ${Math.round(item.durationMs)} ms`);
  parts.push(")");
  if (item.reason !== undefined) parts.push(` ${shown(item.reason)}`);
  if (item.error !== undefined) parts.push(`: ${shown(item.error)}`);
  return parts.join("");
}

// C0 and C1 controls and DEL, shown as \u escapes: a log line must not drive the terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function shown(value: unknown): string {
  const text = typeof value === "string" ? value : value === undefined ? "-" : JSON.stringify(value);
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
