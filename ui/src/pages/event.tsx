/**
 * One event (`GET /admin/v1/events/:id`): its attributes, each function's delivery, the outcomes
 * replays started over, a link to its trace, and every stored copy of the envelope as JSON text.
 * While a delivery is pending the page reads it again every 2 s.
 */
import { useEffect, useState } from "preact/hooks";
import { Badge, toneOf } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { JsonBlock } from "../components/json-block.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatTime } from "../format.ts";
import { eventPath, PAGES, tracePath } from "../paths.ts";
import { Link } from "../router.tsx";
import type { Envelope, EventDetail } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

const POLL_MS = 2000;

export function EventPage({ id }: { readonly id: string }) {
  const [pending, setPending] = useState(false);
  // Read again every 2 s while any delivery is still pending; stop once all have settled.
  const { data, error } = useFetch<EventDetail>(
    `/events/${encodeURIComponent(id)}`,
    pending ? POLL_MS : undefined,
  );
  useEffect(() => setPending(data?.deliveries.some((d) => d.state === "pending") ?? false), [data]);
  return (
    <>
      <PageHeader
        title="Event"
        subtitle={<span class="mono break">{id}</span>}
        actions={
          <Link to={PAGES.events} class="button">
            ← Events
          </Link>
        }
      />
      <ErrorNote error={error} />
      {data === undefined ? null : <Detail event={data} />}
    </>
  );
}

function Detail({ event }: { readonly event: EventDetail }) {
  const envelope = event.copies[0]?.event;
  return (
    <>
      <div class="grid grid-wide">
        {envelope === undefined ? null : <Attributes envelope={envelope} traceId={event.traceId} />}
        <Card title="Deliveries" class="deliveries">
          {event.deliveries.length === 0 ? (
            <p class="muted">No function subscribes to this event.</p>
          ) : (
            <table class="table">
              <thead>
                <tr>
                  <th>Function</th>
                  <th>State</th>
                  <th>Attempts</th>
                  <th>Last error</th>
                </tr>
              </thead>
              <tbody>
                {event.deliveries.map((d) => (
                  <tr key={d.target}>
                    <td>{d.target}</td>
                    <td>
                      <Badge tone={toneOf(d.state)}>{d.state}</Badge>
                    </td>
                    <td>{d.attempts}</td>
                    <td class="break">{d.lastError ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
      </div>
      {event.history.length === 0 ? null : (
        <Card title="History (outcomes a replay started over)" class="history">
          <table class="table">
            <thead>
              <tr>
                <th>Function</th>
                <th>Outcome</th>
                <th>Attempts</th>
                <th>Reason</th>
                <th>Error</th>
                <th>Recorded</th>
                <th>Replaced</th>
              </tr>
            </thead>
            <tbody>
              {event.history.map((h) => (
                <tr key={`${h.target}-${h.supersededAt}`}>
                  <td>{h.target}</td>
                  <td>
                    <Badge tone={toneOf(h.state)}>{h.state}</Badge>
                  </td>
                  <td>{h.attempts}</td>
                  <td>{h.reason ?? "—"}</td>
                  <td class="break">{h.lastError ?? "—"}</td>
                  <td class="nowrap">{formatTime(h.at)}</td>
                  <td class="nowrap">{formatTime(h.supersededAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
      {event.copies.map((copy) => (
        <Card
          key={copy.seq}
          title={`Envelope${event.copies.length > 1 ? ` (copy at position ${copy.seq})` : ""}`}
          class="envelope"
        >
          <p class="muted small">
            Stored at position {copy.seq}, accepted {formatTime(copy.acceptedAt)}.
          </p>
          <JsonBlock value={copy.event} />
        </Card>
      ))}
    </>
  );
}

function Attributes({
  envelope: e,
  traceId,
}: {
  readonly envelope: Envelope;
  readonly traceId: string | null;
}) {
  const rows: [string, string | undefined][] = [
    ["Type", e.type],
    ["Source", e.source],
    ["Principal", e.principal],
    ["Time", e.time],
    ["Hop", String(e.hop)],
    ["Subject", e.subject],
    ["Caused by", e.causationid],
    ["Chain root", e.rootid],
    ["Replay of", e.replayof],
    ["Replayed by", e.replayedby],
  ];
  return (
    <Card title="Attributes" class="attributes">
      <dl class="facts">
        {rows
          .filter((r): r is [string, string] => r[1] !== undefined)
          .map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd class="break">
                {name === "Caused by" || name === "Chain root" ? (
                  <Link to={eventPath(value)}>{value}</Link>
                ) : (
                  value
                )}
              </dd>
            </div>
          ))}
        <div>
          <dt>Trace</dt>
          <dd>
            {traceId === null ? (
              "—"
            ) : (
              <Link to={tracePath(traceId)} class="trace-link">
                {traceId}
              </Link>
            )}
          </dd>
        </div>
      </dl>
    </Card>
  );
}
