/**
 * What is held and why (`GET /admin/v1/quarantine`): quarantined functions, held principals and held
 * chains, the finding behind each and the deliveries waiting. Operators release a hold, or impose one
 * (the kill switch); viewers see the list only.
 */
import { useState } from "preact/hooks";
import { Badge, toneOf } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { ConfirmButton } from "../components/confirm-button.tsx";
import { JsonBlock } from "../components/json-block.tsx";
import { ErrorNote, Notice } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatTime } from "../format.ts";
import { eventPath } from "../paths.ts";
import { Link } from "../router.tsx";
import { allows, useSession } from "../session.ts";
import type { QuarantineEntry } from "../types.ts";
import { useAction } from "../use-action.ts";
import { useFetch } from "../use-fetch.ts";

export function QuarantinePage() {
  const { role } = useSession();
  const mayAct = allows(role, "operator");
  const { data, error, loading, reload } = useFetch<QuarantineEntry[]>("/quarantine?limit=50");
  return (
    <>
      <PageHeader
        title="Quarantine"
        subtitle="Functions, principals and chains held by a detector or an operator; held work waits, never dropped."
        actions={
          <button type="button" class="button" disabled={loading} onClick={reload}>
            Refresh
          </button>
        }
      />
      <ErrorNote error={error} />
      {data?.length === 0 ? (
        <Card>
          <p class="muted">Nothing is quarantined or held.</p>
        </Card>
      ) : null}
      {data?.map((entry) => (
        <HoldCard
          key={`${entry.scope.kind}:${entry.scope.name}`}
          entry={entry}
          mayRelease={mayAct}
          onReleased={reload}
        />
      ))}
      {mayAct ? <HoldForm onHeld={reload} /> : null}
    </>
  );
}

interface HoldCardProps {
  readonly entry: QuarantineEntry;
  readonly mayRelease: boolean;
  readonly onReleased: () => void;
}

function HoldCard({ entry, mayRelease, onReleased }: HoldCardProps) {
  const release = useAction<{ released: unknown }>();
  const { scope, finding, held } = entry;
  const severity = typeof finding?.severity === "string" ? finding.severity : undefined;
  return (
    <Card
      class="hold"
      title={
        <>
          <Badge tone="muted">{scope.kind}</Badge> {scope.name}
        </>
      }
      actions={
        mayRelease ? (
          <ConfirmButton
            label="Release"
            question="Held deliveries then run, in order."
            busy={release.busy}
            onConfirm={async () => {
              if ((await release.run("POST", "/quarantine/release", scope)) !== undefined) onReleased();
            }}
          />
        ) : undefined
      }
    >
      <p>
        {severity === undefined ? null : <Badge tone={toneOf(severity)}>{severity}</Badge>} {entry.reason}
      </p>
      <p class="muted small">Since {formatTime(entry.since)}</p>
      {held === null ? (
        <p class="muted small">{entry.heldNote}</p>
      ) : (
        <p class="small">
          {held.count}
          {held.more ? "+" : ""} held deliveries
          {held.eventIds.length === 0 ? "" : ": "}
          {held.eventIds.map((id, i) => (
            <span key={`${id}-${i}`}>
              {i === 0 ? "" : ", "}
              <Link to={eventPath(id)}>{id}</Link>
            </span>
          ))}
        </p>
      )}
      {finding === null ? null : (
        <details>
          <summary>Finding</summary>
          <JsonBlock value={finding} />
        </details>
      )}
      <ErrorNote error={release.error} />
    </Card>
  );
}

/** What the kill switch can hold. */
const HOLD_KINDS = ["function", "principal", "capability"] as const;
type HoldKind = (typeof HOLD_KINDS)[number];

/**
 * The kill switch: quarantine a function, hold a principal, or hold one capability target of a
 * function (`<function>/<kind>:<target>`) now, with a reason for the record.
 */
function HoldForm({ onHeld }: { readonly onHeld: () => void }) {
  const [kind, setKind] = useState<HoldKind>("function");
  const [name, setName] = useState("");
  const [reason, setReason] = useState("");
  const hold = useAction<{ since: string }>();
  return (
    <Card title="Hold" class="hold-form">
      <form
        class="filters"
        onSubmit={async (e) => {
          e.preventDefault();
          const body = {
            kind,
            name: name.trim(),
            ...(reason.trim() === "" ? {} : { reason: reason.trim() }),
          };
          if ((await hold.run("POST", "/quarantine/hold", body)) !== undefined) onHeld();
        }}
      >
        <label>
          Kind
          <select
            value={kind}
            onChange={(e) => setKind(HOLD_KINDS.find((k) => k === e.currentTarget.value) ?? "function")}
          >
            {HOLD_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input
            name="name"
            required
            placeholder={kind === "capability" ? "checkout/egress:https://api.example.com" : undefined}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          Reason
          <input
            name="reason"
            placeholder="for the audit log"
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button button-danger" disabled={hold.busy || name.trim() === ""}>
          Hold now
        </button>
      </form>
      {hold.result === undefined ? null : (
        <Notice tone="ok">Held since {formatTime(hold.result.since)}.</Notice>
      )}
      <ErrorNote error={hold.error} />
    </Card>
  );
}
