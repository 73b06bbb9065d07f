import { createHash } from "node:crypto";
import { Cron } from "croner";
import type { SourceSpec } from "./app-model.ts";
import type { ManifestPath, Problem } from "./problem.ts";

export interface RawSchedule {
  cron: string;
  emit: string;
  timezone?: string;
  catchUp?: boolean;
  data?: unknown;
}

/** Resolves a `schedule` source: the expression and time zone must parse, the type must be declared. */
export function resolveSchedule(
  raw: RawSchedule,
  at: ManifestPath,
  declared: readonly string[],
  problems: Problem[],
): SourceSpec | undefined {
  const timezone = raw.timezone ?? "UTC";
  let ok = true;
  try {
    // croner checks the time zone only when it computes a run.
    const probe = new Cron(raw.cron, { timezone, paused: true });
    probe.nextRun();
    probe.stop();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const field = /time ?zone/i.test(reason) ? "timezone" : "cron";
    problems.push({ path: [...at, field], message: `cannot be used: ${reason}` });
    ok = false;
  }
  if (!declared.includes(raw.emit)) {
    problems.push({
      path: [...at, "emit"],
      message: `unknown event type "${raw.emit}"; declared types are: ${declared.join(", ")}`,
    });
    ok = false;
  }
  if (!ok) return undefined;
  const name = createHash("sha256")
    .update(`${raw.cron}\0${timezone}\0${raw.emit}`)
    .digest("hex")
    .slice(0, 16);
  return Object.freeze({
    kind: "schedule",
    name,
    cron: raw.cron,
    timezone,
    catchUp: raw.catchUp ?? false,
    emit: raw.emit,
    data: raw.data ?? {},
  });
}
