/** Recent traces (`GET /admin/v1/traces`), newest first: each request's root span, size and errors. */
import { Card } from "../components/card.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatMs, formatTime } from "../format.ts";
import { tracePath } from "../paths.ts";
import { Link } from "../router.tsx";
import type { TraceSummary } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

export function TracesPage() {
  const { data, error, loading, reload } = useFetch<TraceSummary[]>("/traces?limit=50");
  const traces = [...(data ?? [])].sort((a, b) => b.start - a.start);
  return (
    <>
      <PageHeader
        title="Traces"
        subtitle="The newest traces the platform kept (spans are written in batches, a few seconds late)."
        actions={
          <button type="button" class="button" disabled={loading} onClick={reload}>
            Refresh
          </button>
        }
      />
      <ErrorNote error={error} />
      <Card>
        {data === undefined ? (
          <p class="muted">{loading ? "Loading…" : ""}</p>
        ) : traces.length === 0 ? (
          <p class="muted">No traces yet.</p>
        ) : (
          <table class="table">
            <thead>
              <tr>
                <th>Started</th>
                <th>Root span</th>
                <th>Duration</th>
                <th>Spans</th>
                <th>Errors</th>
              </tr>
            </thead>
            <tbody>
              {traces.map((t) => (
                <tr key={t.traceId}>
                  <td class="nowrap">{formatTime(t.start)}</td>
                  <td>
                    <Link to={tracePath(t.traceId)}>{t.name}</Link>
                  </td>
                  <td>{formatMs(t.durationMs)}</td>
                  <td>{t.spans}</td>
                  <td class={t.errors > 0 ? "tone-bad" : ""}>{t.errors}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
