/**
 * Events: the live list (accepted events as the stream reports them, newest first) above the stored
 * log (`GET /admin/v1/events`, a page at a time, newest first), both under the same type and
 * principal filters. Ids, types and principals are the senders' strings, shown as text.
 */
import { useState } from "preact/hooks";
import { Card } from "../components/card.tsx";
import { DeliveryBadges } from "../components/delivery-badges.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatClock, formatTime } from "../format.ts";
import { useLive } from "../live.tsx";
import { eventPath, tracePath } from "../paths.ts";
import { Link } from "../router.tsx";
import { matchesType } from "../type-pattern.ts";
import type { EventsPage as Page, StreamItem } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

const LIVE_ROWS = 100;
const PAGE_SIZE = 50;

interface Filter {
  readonly type: string;
  readonly principal: string;
}

export function EventsPage() {
  const [draft, setDraft] = useState<Filter>({ type: "", principal: "" });
  const [filter, setFilter] = useState<Filter>(draft);
  return (
    <>
      <PageHeader title="Events" subtitle="Live as they are accepted, and the stored log newest first." />
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ type: draft.type.trim(), principal: draft.principal.trim() });
        }}
      >
        <label>
          Type
          <input
            name="type"
            placeholder="order.created or order.*"
            value={draft.type}
            onInput={(e) => setDraft({ ...draft, type: e.currentTarget.value })}
          />
        </label>
        <label>
          Principal
          <input
            name="principal"
            placeholder="any"
            value={draft.principal}
            onInput={(e) => setDraft({ ...draft, principal: e.currentTarget.value })}
          />
        </label>
        <button type="submit" class="button">
          Filter
        </button>
      </form>
      <LiveEvents filter={filter} />
      <StoredEvents key={`${filter.type}\n${filter.principal}`} filter={filter} />
    </>
  );
}

/** One event of a live `accepted` item, or the count of those the stream did not list. */
interface LiveRow {
  readonly key: string;
  readonly at: number;
  readonly principal: string;
  /** The event's type; for the count of unlisted ones, every type the request carried. */
  readonly types: readonly string[];
  readonly id?: string;
  /** Events of the request past the ids the stream lists. */
  readonly more?: number;
}

function LiveEvents({ filter }: { readonly filter: Filter }) {
  const live = useLive();
  const rows = live.items
    .flatMap((item) => rowsOf(item))
    .filter(
      (r) =>
        (filter.type === "" || r.types.some((type) => matchesType(filter.type, type))) &&
        (filter.principal === "" || r.principal === filter.principal),
    )
    .slice(0, LIVE_ROWS);
  return (
    <Card
      title="Live"
      class="live-events"
      actions={
        <span class={`live-status live-${live.status}`}>
          <span class="dot" aria-hidden="true" />
          {live.status === "live"
            ? "Receiving"
            : live.status === "connecting"
              ? "Connecting…"
              : "Stream closed"}
        </span>
      }
    >
      {live.problem === undefined ? null : <p class="notice notice-bad">{live.problem}</p>}
      {live.dropped > 0 ? (
        <p class="notice notice-warn">{live.dropped} stream items were dropped (too many at once).</p>
      ) : null}
      {rows.length === 0 ? (
        <p class="muted">Waiting for events… (only those accepted while this page is open appear here)</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th>Accepted</th>
              <th>Id</th>
              <th>Type</th>
              <th>Principal</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <td class="nowrap">{formatClock(r.at)}</td>
                <td class="mono">
                  {r.id === undefined ? (
                    <span class="muted">…and {r.more} more in this request (see the stored events)</span>
                  ) : (
                    <Link to={eventPath(r.id)}>{r.id}</Link>
                  )}
                </td>
                <td class={r.types.length === 1 ? "" : "muted"}>{r.types.join(", ")}</td>
                <td>{r.principal}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** The events one `accepted` item reports (one request may carry a batch), in request order. */
function rowsOf(item: StreamItem): LiveRow[] {
  if (item.kind !== "accepted") return [];
  const { at, principal, types } = item;
  // The stream lists the type of each listed id (`types[i]` for `ids[i]`).
  const rows: LiveRow[] = item.ids.map((id, i) => ({
    key: `${at}:${i}:${id}`,
    at,
    principal,
    types: types[i] === undefined ? types : [types[i]],
    id,
  }));
  const more = item.events - item.ids.length;
  return more > 0 ? [...rows, { key: `${at}:more`, at, principal, types: [...new Set(types)], more }] : rows;
}

function StoredEvents({ filter }: { readonly filter: Filter }) {
  // Cursors of the pages shown so far: undefined is the newest page.
  const [cursors, setCursors] = useState<readonly (number | undefined)[]>([undefined]);
  const before = cursors.at(-1);
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filter.type !== "") query.set("type", filter.type);
  if (filter.principal !== "") query.set("principal", filter.principal);
  if (before !== undefined) query.set("before", String(before));
  const { data, error, loading, reload } = useFetch<Page>(`/events?${query}`);
  const next = data?.next;
  return (
    <Card
      title="Stored events"
      class="stored-events"
      actions={
        <>
          <button
            type="button"
            class="button"
            disabled={cursors.length === 1}
            onClick={() => setCursors([undefined])}
          >
            Newest
          </button>
          <button type="button" class="button" disabled={loading} onClick={reload}>
            Refresh
          </button>
          <button
            type="button"
            class="button"
            disabled={next === undefined}
            onClick={() => setCursors([...cursors, next])}
          >
            Older →
          </button>
        </>
      }
    >
      <ErrorNote error={error} />
      {data === undefined ? (
        <p class="muted">{loading ? "Loading…" : ""}</p>
      ) : data.events.length === 0 ? (
        <p class="muted">
          {next === undefined ? "No events." : "None in this stretch of the log; Older → reads on."}
        </p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th>Accepted</th>
              <th>Id</th>
              <th>Type</th>
              <th>Principal</th>
              <th>Hop</th>
              <th>Deliveries</th>
              <th>Trace</th>
            </tr>
          </thead>
          <tbody>
            {data.events.map((e) => (
              <tr key={e.seq}>
                <td class="nowrap">{formatTime(e.acceptedAt)}</td>
                <td class="mono">
                  <Link to={eventPath(e.id)}>{e.id}</Link>
                </td>
                <td>{e.type}</td>
                <td>{e.principal}</td>
                <td>{e.hop}</td>
                <td>
                  <DeliveryBadges deliveries={e.deliveries} />
                </td>
                <td>{e.traceId === null ? "—" : <Link to={tracePath(e.traceId)}>trace</Link>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
