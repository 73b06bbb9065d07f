/**
 * The audit log's verdict (`POST /admin/v1/audit/verify`): whether the hash chain and its signed
 * checkpoints are intact, or where they break. Shown first on the overview: a log someone rewrote is
 * the one thing every other number on the page depends on.
 */
import { useEffect } from "preact/hooks";
import { formatCount } from "../format.ts";
import type { AuditVerdict } from "../types.ts";
import { useAction } from "../use-action.ts";
import { Card } from "./card.tsx";
import { ErrorNote, Notice } from "./notice.tsx";

/** `verifyOnMount`: run the check as soon as the card shows (the overview), or on a click only. */
export function AuditChain({ verifyOnMount }: { readonly verifyOnMount: boolean }) {
  const verify = useAction<AuditVerdict>();
  const run = verify.run;
  useEffect(() => {
    if (verifyOnMount) void run("POST", "/audit/verify");
  }, [verifyOnMount, run]);

  const verdict = verify.result;
  return (
    <Card
      title="Audit chain"
      class="audit-chain"
      actions={
        <button
          type="button"
          class="button"
          disabled={verify.busy}
          onClick={() => run("POST", "/audit/verify")}
        >
          {verify.busy ? "Verifying…" : "Verify"}
        </button>
      }
    >
      {verdict === undefined ? (
        <p class="muted">
          {verify.busy ? "Checking the hash chain and its signatures…" : "Not checked yet."}
        </p>
      ) : verdict.ok ? (
        <>
          <div class="verdict verdict-ok">Intact</div>
          <p class="muted">
            {formatCount(verdict.records)} records, {formatCount(verdict.checkpoints)} signed checkpoints
            {verdict.unsigned > 0 ? `, ${formatCount(verdict.unsigned)} awaiting the next checkpoint` : ""} (
            {verdict.backend === "nats" ? "NATS audit stream" : "audit file"}).
          </p>
        </>
      ) : (
        <>
          <div class="verdict verdict-bad">NOT intact</div>
          <p class="problem">{verdict.problem ?? "The chain does not verify."}</p>
          {verdict.firstBad === undefined || verdict.firstBad === null ? null : (
            <p class="muted">
              First record to blame: #{verdict.firstBad}
              {verdict.node ? ` on node ${verdict.node}` : ""}
            </p>
          )}
        </>
      )}
      {verdict?.noTrustedKeys ? (
        <Notice tone="warn">No audit keys are trusted: checkpoint signatures cannot be checked.</Notice>
      ) : null}
      <ErrorNote error={verify.error} />
    </Card>
  );
}
