/**
 * Replaying archived events (`POST /admin/v1/replay`): every event accepted in a time range (of a type,
 * for one function, or all) is delivered again, marked as a replay; each one is checked against the
 * app as it is now, and a refused one is dead-lettered with the reason.
 */
import { useState } from "preact/hooks";
import type { ArchiveReplayResult } from "../types.ts";
import { useAction } from "../use-action.ts";
import { Card } from "./card.tsx";
import { ErrorNote, Notice } from "./notice.tsx";

export function ReplayArchive() {
  const [since, setSince] = useState("15m");
  const [until, setUntil] = useState("");
  const [type, setType] = useState("");
  const [fn, setFn] = useState("");
  const replay = useAction<ArchiveReplayResult>();
  const result = replay.result;
  return (
    <Card title="Replay archived events" class="replay-archive">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void replay.run("POST", "/replay", {
            since: since.trim(),
            ...(until.trim() === "" ? {} : { until: until.trim() }),
            ...(type.trim() === "" ? {} : { type: type.trim() }),
            ...(fn.trim() === "" ? {} : { function: fn.trim() }),
          });
        }}
      >
        <label>
          Since
          <input
            name="since"
            required
            placeholder="15m, 2h, 7d or ISO time"
            value={since}
            onInput={(e) => setSince(e.currentTarget.value)}
          />
        </label>
        <label>
          Until
          <input
            name="until"
            placeholder="now"
            value={until}
            onInput={(e) => setUntil(e.currentTarget.value)}
          />
        </label>
        <label>
          Type
          <input
            name="type"
            placeholder="all types"
            value={type}
            onInput={(e) => setType(e.currentTarget.value)}
          />
        </label>
        <label>
          Function
          <input
            name="function"
            placeholder="every subscriber"
            value={fn}
            onInput={(e) => setFn(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button" disabled={replay.busy || since.trim() === ""}>
          {replay.busy ? "Replaying…" : "Replay"}
        </button>
      </form>
      {result === undefined ? null : (
        <Notice tone={result.refused.length === 0 ? "ok" : "warn"}>
          {result.events} events matched, {result.replayed} deliveries started again
          {result.refused.length === 0 ? "" : `, ${result.refused.length} refused`}
          {result.skipped.length === 0 ? "" : `, ${result.skipped.length} unreadable records skipped`}.
        </Notice>
      )}
      {result === undefined || result.refused.length === 0 ? null : (
        <ul class="small">
          {result.refused.map((r) => (
            <li key={`${r.eventId}:${r.target}`}>
              {r.target} ({r.eventId}): {r.reason}
            </li>
          ))}
        </ul>
      )}
      <ErrorNote error={replay.error} />
    </Card>
  );
}
