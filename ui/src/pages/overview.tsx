/**
 * The overview, security first: the audit chain's verdict, refused requests by reason, capability
 * denials, detector findings, quarantines and the dead-letter queue lead; the latest security events
 * from the live stream follow; throughput and latency come last. Numbers are since the platform
 * started, read every 2 s.
 */
import { AuditChain } from "../components/audit-chain.tsx";
import { Card } from "../components/card.tsx";
import { CountList } from "../components/count-list.tsx";
import { LiveItem } from "../components/live-item.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { Sparkline } from "../components/sparkline.tsx";
import { Stat } from "../components/stat.tsx";
import { formatCount, formatMs, formatRate } from "../format.ts";
import { useLive } from "../live.tsx";
import { PAGES } from "../paths.ts";
import { Link } from "../router.tsx";
import { useSession } from "../session.ts";
import type { MetricsSummary } from "../types.ts";
import { useFetch } from "../use-fetch.ts";
import { useRates } from "../use-rates.ts";

const POLL_MS = 2000;
const SECURITY_KINDS = new Set(["rejected", "denied", "finding", "held"]);
const FEED = 15;

export function OverviewPage() {
  const { app } = useSession();
  const { data, error } = useFetch<MetricsSummary>("/overview", POLL_MS);
  return (
    <>
      <PageHeader
        title="Overview"
        subtitle={`${app}: security first, then traffic. Counts since the platform started.`}
      />
      <ErrorNote error={error} />
      <div class="grid">
        <AuditChain verifyOnMount={true} />
        {data === undefined ? null : <SecurityCards summary={data} />}
      </div>
      <SecurityFeed />
      {data === undefined ? null : <Traffic summary={data} />}
    </>
  );
}

function SecurityCards({ summary: s }: { readonly summary: MetricsSummary }) {
  return (
    <>
      <Card class="security-rejected">
        <Stat
          label="Rejected requests"
          value={formatCount(s.rejected.total)}
          tone={s.rejected.total > 0 ? "warn" : "ok"}
        >
          <CountList counts={s.rejected.byReason} empty="None refused." />
        </Stat>
      </Card>
      <Card class="security-denials">
        <Stat
          label="Capability denials"
          value={formatCount(s.denials.total)}
          tone={s.denials.total > 0 ? "bad" : "ok"}
        >
          <CountList counts={s.denials.byFunction} empty="No function was refused." />
        </Stat>
      </Card>
      <Card class="security-findings">
        <Stat
          label="Detector findings"
          value={formatCount(s.findings.total)}
          tone={s.findings.total > 0 ? "bad" : "ok"}
        >
          <CountList counts={s.findings.byDetector} empty="No findings." />
        </Stat>
      </Card>
      <Card class="security-quarantine">
        <Stat
          label="Quarantined functions"
          value={formatCount(s.quarantined.length)}
          tone={s.quarantined.length > 0 ? "bad" : "ok"}
        >
          {s.quarantined.length === 0 ? (
            <p class="muted small">None.</p>
          ) : (
            <ul class="name-list">
              {s.quarantined.map((fn) => (
                <li key={fn}>{fn}</li>
              ))}
            </ul>
          )}
          <Link to={PAGES.quarantine} class="more">
            Quarantine →
          </Link>
        </Stat>
      </Card>
      <Card class="security-dlq">
        <Stat label="Dead letters" value={formatCount(s.dlqDepth)} tone={s.dlqDepth > 0 ? "warn" : "ok"}>
          <Link to={PAGES.dlq} class="more">
            Dead letters →
          </Link>
        </Stat>
      </Card>
    </>
  );
}

function SecurityFeed() {
  const live = useLive();
  const items = live.items.filter((i) => SECURITY_KINDS.has(i.kind)).slice(0, FEED);
  return (
    <Card title="Security activity (live)" class="security-feed">
      {items.length === 0 ? (
        <p class="muted">Nothing refused, denied or found since this page opened.</p>
      ) : (
        <ul class="live-list">
          {items.map((item, i) => (
            <LiveItem key={`${item.at}-${i}`} item={item} />
          ))}
        </ul>
      )}
    </Card>
  );
}

function Traffic({ summary: s }: { readonly summary: MetricsSummary }) {
  const rates = useRates(s);
  const now = (series: readonly number[]) => (series.length === 0 ? "…" : formatRate(series.at(-1) ?? 0));
  const seconds = (v: number | null) => (v === null ? "—" : `≤ ${formatMs(v * 1000)}`);
  return (
    <Card title="Traffic">
      <div class="grid grid-tight">
        <Stat label="Accepted / s" value={now(rates.accepted)}>
          <Sparkline values={rates.accepted} label="Events accepted per second" />
          <p class="muted small">{formatCount(s.accepted)} in all</p>
        </Stat>
        <Stat label="Delivered / s" value={now(rates.delivered)}>
          <Sparkline values={rates.delivered} label="Deliveries per second" />
          <p class="muted small">
            {formatCount(s.deliveries.delivered)} delivered, {formatCount(s.deliveries.retry)} retried,{" "}
            {formatCount(s.deliveries.failed)} failed
          </p>
        </Stat>
        <Stat label="Latency p50" value={seconds(s.latency.p50)}>
          <p class="muted small">
            p99 {seconds(s.latency.p99)} over {formatCount(s.latency.count)} attempts
          </p>
        </Stat>
        <Stat label="Pending deliveries" value={formatCount(s.pending)} />
        <Stat label="Spend" value={`$${s.costUsd.toFixed(4)}`} />
      </div>
    </Card>
  );
}
