/**
 * Functions (`GET /admin/v1/functions`): for each, what the manifest grants next to what it used and
 * what it was refused (grants never used are candidates for removal), the bundle that runs and who
 * signed it, its processes, and whether it is quarantined.
 */
import { Badge } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { JsonBlock } from "../components/json-block.tsx";
import { ErrorNote, Notice } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatCount, formatTime } from "../format.ts";
import type { FunctionStatus } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

export function FunctionsPage() {
  const { data, error, loading, reload } = useFetch<FunctionStatus[]>("/functions");
  return (
    <>
      <PageHeader
        title="Functions"
        subtitle="Grants against use: least privilege is what a function actually needs."
        actions={
          <button type="button" class="button" disabled={loading} onClick={reload}>
            Refresh
          </button>
        }
      />
      <ErrorNote error={error} />
      {data?.length === 0 ? <p class="muted">This app has no functions.</p> : null}
      {data?.map((fn) => (
        <FunctionCard key={fn.name} fn={fn} />
      ))}
    </>
  );
}

function FunctionCard({ fn }: { readonly fn: FunctionStatus }) {
  const { granted, unused, denied } = fn.permissions;
  return (
    <Card
      class="function"
      title={
        <>
          {fn.name}{" "}
          {fn.quarantinedSince === null ? null : (
            <Badge tone="bad">quarantined since {formatTime(fn.quarantinedSince)}</Badge>
          )}
        </>
      }
      actions={
        <span class="muted small">
          {fn.processes === null
            ? "not running here"
            : `${fn.processes} process${fn.processes === 1 ? "" : "es"}`}
        </span>
      }
    >
      <p class="small">
        <span class="label">On:</span> {fn.on.join(", ")}
        {fn.filter === null ? "" : " (with a filter)"}
      </p>
      <div class="grid grid-wide">
        <div>
          <h3>Grants and use</h3>
          {granted.length === 0 ? (
            <p class="muted small">No capabilities granted.</p>
          ) : (
            <table class="table">
              <thead>
                <tr>
                  <th>Kind</th>
                  <th>Grant</th>
                  <th>Uses</th>
                </tr>
              </thead>
              <tbody>
                {granted.map((g) => (
                  <tr key={`${g.kind}:${g.grant}`} class={g.uses === 0 ? "unused" : ""}>
                    <td>{g.kind}</td>
                    <td class="mono">{g.grant}</td>
                    <td>{g.uses === 0 ? <Badge tone="warn">unused</Badge> : formatCount(g.uses)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {unused.length === 0 ? null : (
            <p class="small muted">Never used (candidates for removal): {unused.join(", ")}</p>
          )}
          <h3>Refused</h3>
          {denied.length === 0 ? (
            <p class="muted small">Nothing refused.</p>
          ) : (
            <table class="table denied">
              <thead>
                <tr>
                  <th>Kind</th>
                  <th>Target</th>
                  <th>Count</th>
                  <th>Last reason</th>
                </tr>
              </thead>
              <tbody>
                {denied.map((d) => (
                  <tr key={`${d.kind}:${d.target}`}>
                    <td>{d.kind}</td>
                    <td class="mono">{d.target}</td>
                    <td class="tone-bad">{formatCount(d.count)}</td>
                    <td class="break">{d.reason ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div>
          <h3>Bundle</h3>
          {fn.bundle === null ? (
            <p class="muted small">Not known here (the function runs elsewhere).</p>
          ) : (
            <dl class="facts">
              <div>
                <dt>sha256</dt>
                <dd class="mono break">{fn.bundle.sha256 ?? "—"}</dd>
              </div>
              <div>
                <dt>Signed by</dt>
                <dd class="mono break">
                  {fn.bundle.keyids.length === 0 ? "unsigned" : fn.bundle.keyids.join(", ")}
                </dd>
              </div>
            </dl>
          )}
          {fn.bundle?.refused ? <Notice tone="bad">Refused: {fn.bundle.refused}</Notice> : null}
          <details>
            <summary>Limits and retry</summary>
            <JsonBlock value={{ limits: fn.limits, retry: fn.retry }} />
          </details>
        </div>
      </div>
    </Card>
  );
}
