/**
 * The audit log: its verdict (Verify runs `POST /admin/v1/audit/verify`), the newest records (`GET
 * /audit`, shown newest first) and an export of the shown records as JSON Lines, one record per line,
 * as `palisade audit tail --json` prints them.
 */
import { useState } from "preact/hooks";
import { AuditChain } from "../components/audit-chain.tsx";
import { Badge, toneOf } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { downloadText } from "../download.ts";
import { formatTime } from "../format.ts";
import type { AuditRecord } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

const LIMITS = [50, 100, 500, 1000] as const;

export function AuditPage() {
  const [limit, setLimit] = useState<number>(100);
  const [kind, setKind] = useState("");
  const { data, error, loading, reload } = useFetch<AuditRecord[]>(`/audit?limit=${limit}`);
  const shown = (data ?? []).filter((r) => kind === "" || r.kind.includes(kind.trim())).toReversed();

  return (
    <>
      <PageHeader
        title="Audit log"
        subtitle="A hash chain of every security decision, signed at checkpoints."
      />
      <AuditChain verifyOnMount={false} />
      <Card
        title="Newest records"
        class="audit-records"
        actions={
          <>
            <button type="button" class="button" disabled={loading} onClick={reload}>
              Refresh
            </button>
            <button
              type="button"
              class="button"
              disabled={shown.length === 0}
              onClick={() =>
                downloadText(
                  `palisade-audit-${new Date().toISOString().replaceAll(":", "-")}.jsonl`,
                  // Oldest first, as the log holds them.
                  shown
                    .toReversed()
                    .map((r) => `${JSON.stringify(r)}\n`)
                    .join(""),
                  "application/x-ndjson",
                )
              }
            >
              Export JSON Lines
            </button>
          </>
        }
      >
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            Records
            <select value={String(limit)} onChange={(e) => setLimit(Number(e.currentTarget.value))}>
              {LIMITS.map((n) => (
                <option key={n} value={String(n)}>
                  newest {n}
                </option>
              ))}
            </select>
          </label>
          <label>
            Kind contains
            <input
              name="kind"
              placeholder="e.g. capability"
              value={kind}
              onInput={(e) => setKind(e.currentTarget.value)}
            />
          </label>
        </form>
        <ErrorNote error={error} />
        {data === undefined ? (
          <p class="muted">{loading ? "Loading…" : ""}</p>
        ) : shown.length === 0 ? (
          <p class="muted">No records.</p>
        ) : (
          <table class="table audit-table">
            <thead>
              <tr>
                <th>#</th>
                <th>Time</th>
                <th>Kind</th>
                <th>Actor</th>
                <th>Subject</th>
                <th>Outcome</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={`${r.node ?? ""}:${r.seq}`} class="audit-record">
                  <td>{r.seq}</td>
                  <td class="nowrap">{formatTime(r.at)}</td>
                  <td class="audit-kind">{r.kind}</td>
                  <td>{r.actor ?? "—"}</td>
                  <td class="break">{r.subject ?? "—"}</td>
                  <td>
                    <Badge tone={toneOf(r.outcome)}>{r.outcome}</Badge>
                  </td>
                  <td class="details">{r.details === undefined ? "" : JSON.stringify(r.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
