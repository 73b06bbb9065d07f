/**
 * One live stream item as a line of text. Everything in it (ids, types, reasons, summaries) comes
 * from senders or functions and is rendered as text nodes; an event id becomes a link to its own
 * `/ui/events/<id>` page, percent-encoded.
 */
import { formatClock, formatMs } from "../format.ts";
import { eventPath } from "../paths.ts";
import { Link } from "../router.tsx";
import type { StreamItem } from "../types.ts";
import { Badge, toneOf } from "./badge.tsx";

export function LiveItem({ item }: { readonly item: StreamItem }) {
  return (
    <li class={`live-item live-${item.kind}`}>
      <time class="live-time">{formatClock(item.at)}</time>
      <Badge tone={KIND_TONE[item.kind]}>{item.kind}</Badge>
      <span class="live-text">
        <Describe item={item} />
      </span>
    </li>
  );
}

const KIND_TONE = {
  accepted: "ok",
  settled: "muted",
  rejected: "warn",
  denied: "bad",
  finding: "bad",
  held: "warn",
} as const;

function Describe({ item }: { readonly item: StreamItem }) {
  switch (item.kind) {
    case "accepted":
      return (
        <>
          {item.events} event{item.events === 1 ? "" : "s"} from {item.principal}
        </>
      );
    case "rejected":
      return (
        <>
          {item.status} {item.code} ({item.reason}) from {item.ip}
          {item.principal === undefined ? "" : ` as ${item.principal}`}
        </>
      );
    case "denied":
      return (
        <>
          Function <strong>{item.fn}</strong> was refused {item.capability} <code>{item.target}</code>:{" "}
          {item.reason} (event <Link to={eventPath(item.eventId)}>{item.eventId}</Link>)
        </>
      );
    case "settled":
      return (
        <>
          {item.fn} <Badge tone={toneOf(item.outcome)}>{item.outcome}</Badge> {item.type} attempt{" "}
          {item.attempt}
          {item.durationMs === undefined ? "" : ` in ${formatMs(item.durationMs)}`}
          {item.reason === undefined ? "" : `: ${item.reason}`} (
          <Link to={eventPath(item.eventId)}>event</Link>)
        </>
      );
    case "finding":
      return (
        <>
          <Badge tone={toneOf(item.severity)}>{item.severity}</Badge> {item.detector} on {item.scope}:{" "}
          {item.summary} (response: {item.response})
        </>
      );
    case "held":
      return (
        <>
          A delivery to {item.fn} is held ({item.hold})
        </>
      );
  }
}
