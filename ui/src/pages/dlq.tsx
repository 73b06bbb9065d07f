/**
 * Dead letters (`GET /admin/v1/dlq`): deliveries that ran out of attempts or were refused, each with
 * why. Operators replay one (`POST /dlq/replay`: back to pending, checked against the app as it is
 * now) or replay archived events by time; viewers see the list only, without the buttons.
 */
import { useState } from "preact/hooks";
import { Card } from "../components/card.tsx";
import { ErrorNote, Notice } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { ReplayArchive } from "../components/replay-archive.tsx";
import { formatTime } from "../format.ts";
import { eventPath } from "../paths.ts";
import { Link } from "../router.tsx";
import { allows, useSession } from "../session.ts";
import type { DeadLetter, DlqReplayResult } from "../types.ts";
import { useAction } from "../use-action.ts";
import { useFetch } from "../use-fetch.ts";

export function DlqPage() {
  const { role } = useSession();
  const mayReplay = allows(role, "operator");
  const { data, error, loading, reload } = useFetch<DeadLetter[]>("/dlq?limit=200");
  const replay = useAction<DlqReplayResult>();
  const [replayed, setReplayed] = useState<DeadLetter | undefined>(undefined);

  const replayOne = async (letter: DeadLetter) => {
    setReplayed(letter);
    await replay.run("POST", "/dlq/replay", { eventId: letter.eventId, function: letter.target });
    reload();
  };

  return (
    <>
      <PageHeader
        title="Dead letters"
        subtitle="Deliveries that failed for good. A replay is checked against the app as it is now."
        actions={
          <button type="button" class="button" disabled={loading} onClick={reload}>
            Refresh
          </button>
        }
      />
      <ErrorNote error={error} />
      {replayed === undefined ? null : <ReplayOutcome letter={replayed} result={replay.result} />}
      <ErrorNote error={replay.error} />
      <Card class="dlq">
        {data === undefined ? (
          <p class="muted">{loading ? "Loading…" : ""}</p>
        ) : data.length === 0 ? (
          <p class="muted">The dead-letter queue is empty.</p>
        ) : (
          <table class="table">
            <thead>
              <tr>
                <th>Dead-lettered</th>
                <th>Event</th>
                <th>Type</th>
                <th>Function</th>
                <th>Attempts</th>
                <th>Reason</th>
                <th>Error</th>
                {mayReplay ? <th>Replay</th> : null}
              </tr>
            </thead>
            <tbody>
              {data.map((d) => (
                <tr key={`${d.seq}:${d.target}`} class="dead-letter">
                  <td class="nowrap">{formatTime(d.at)}</td>
                  <td class="mono">
                    <Link to={eventPath(d.eventId)}>{d.eventId}</Link>
                  </td>
                  <td>{d.type}</td>
                  <td>{d.target}</td>
                  <td>{d.attempts}</td>
                  <td>{d.reason}</td>
                  <td class="break">{d.error}</td>
                  {mayReplay ? (
                    <td>
                      <button
                        type="button"
                        class="button"
                        disabled={replay.busy}
                        onClick={() => replayOne(d)}
                      >
                        Replay
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {mayReplay ? <ReplayArchive /> : null}
    </>
  );
}

/** What the last replay did, with a link to the event to watch its delivery. */
function ReplayOutcome({
  letter,
  result,
}: {
  readonly letter: DeadLetter;
  readonly result: DlqReplayResult | undefined;
}) {
  if (result === undefined) return null;
  const link = <Link to={eventPath(letter.eventId)}>{letter.eventId}</Link>;
  if (result.refused.length > 0)
    return (
      <Notice tone="bad">
        Replay of {link} to {letter.target} refused: {result.refused.map((r) => r.reason).join("; ")}
      </Notice>
    );
  return (
    <Notice tone="ok">
      Replayed {link} to {letter.target}: {result.requeued} of {result.matched} requeued. Open the event to
      watch its delivery.
    </Notice>
  );
}
