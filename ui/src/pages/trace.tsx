/**
 * One trace (`GET /admin/v1/traces/:traceId`) as an indented span tree with a bar per span on one
 * time axis. Spans are exported in batches, so a fresh trace may be missing or partial: the page reads
 * it again every 2 s for its first minute. Clicking a span shows its attributes.
 */
import { useEffect, useState } from "preact/hooks";
import { Card } from "../components/card.tsx";
import { JsonBlock } from "../components/json-block.tsx";
import { ErrorNote, Notice } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatMs, formatTime } from "../format.ts";
import { PAGES } from "../paths.ts";
import { Link } from "../router.tsx";
import { spanRows } from "../span-tree.ts";
import type { Span } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

const POLL_MS = 2000;
/** How long after a trace starts its spans may still arrive. */
const SETTLE_MS = 60_000;
const AXIS = 1000;

export function TracePage({ traceId }: { readonly traceId: string }) {
  const [openedAt] = useState(() => Date.now());
  const [fresh, setFresh] = useState(true);
  const { data, error } = useFetch<Span[]>(
    `/traces/${encodeURIComponent(traceId)}`,
    fresh ? POLL_MS : undefined,
  );
  const start = data === undefined || data.length === 0 ? undefined : Math.min(...data.map((s) => s.start));
  useEffect(() => {
    if (Date.now() - (start ?? openedAt) > SETTLE_MS) setFresh(false);
  });

  return (
    <>
      <PageHeader
        title="Trace"
        subtitle={<span class="mono">{traceId}</span>}
        actions={
          <Link to={PAGES.traces} class="button">
            ← Traces
          </Link>
        }
      />
      {data === undefined && error?.status === 404 && fresh ? (
        <Notice tone="info">Waiting for this trace's spans (they are exported in batches)…</Notice>
      ) : (
        <ErrorNote error={error} />
      )}
      {data === undefined ? null : <SpanTree spans={data} />}
    </>
  );
}

function SpanTree({ spans }: { readonly spans: readonly Span[] }) {
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const rows = spanRows(spans);
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.durationMs));
  const total = Math.max(end - start, 0.001);
  const chosen = spans.find((s) => s.spanId === selected);
  return (
    <>
      <Card
        title={`${spans.length} spans, ${formatMs(total)}, started ${formatTime(start)}`}
        class="span-tree"
      >
        <table class="table spans">
          <thead>
            <tr>
              <th>Span</th>
              <th>Duration</th>
              <th class="timeline-head">Timeline</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ span, depth }) => {
              const x = ((span.start - start) / total) * AXIS;
              const width = Math.max((span.durationMs / total) * AXIS, 2);
              return (
                <tr
                  key={span.spanId}
                  class={`span-row${span.error === null ? "" : " span-error"}${span.spanId === selected ? " selected" : ""}`}
                  onClick={() => setSelected(span.spanId === selected ? undefined : span.spanId)}
                >
                  <td class="span-name">
                    {Array.from({ length: depth }, (_, i) => (
                      <span key={i} class="indent" aria-hidden="true" />
                    ))}
                    <button type="button" class="link-button">
                      {span.name}
                    </button>
                    {span.error === null ? null : <span class="span-error-code"> {span.error}</span>}
                  </td>
                  <td class="nowrap">{formatMs(span.durationMs)}</td>
                  <td class="timeline">
                    <svg class="bar" viewBox={`0 0 ${AXIS} 10`} preserveAspectRatio="none" aria-hidden="true">
                      <rect class="bar-fill" x={Math.min(x, AXIS - width)} y="0" width={width} height="10" />
                    </svg>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Card>
      {chosen === undefined ? (
        <p class="muted small">Click a span to see its attributes.</p>
      ) : (
        <Card title={`Span ${chosen.name}`} class="span-detail">
          <JsonBlock value={chosen} />
        </Card>
      )}
    </>
  );
}
