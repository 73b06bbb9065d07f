import type { Waiver } from "../manifest/index.ts";
import type { CheckContext } from "./check-context.ts";
import type { Finding, Hit, Location } from "./finding.ts";

/** A waiver of the manifest and what became of it in this run. */
export interface WaiverStatus extends Waiver {
  /** `active`: waives at least one finding; `expired`: past its date, waives nothing; `unused`: matches no finding. */
  readonly status: "active" | "expired" | "unused";
  readonly location: Location;
}

/** Rules about waivers themselves, which no waiver can silence. */
export const WAIVER_RULES = ["PAL090", "PAL091"];

/**
 * Marks each finding covered by an unexpired waiver with the same rule and path as waived. A waiver
 * applies through its `expires` day (UTC). Expired waivers waive nothing and become PAL090 hits;
 * unexpired ones that match nothing become PAL091 hits.
 */
export function applyWaivers(
  ctx: CheckContext,
  findings: readonly Finding[],
): { findings: Finding[]; waivers: WaiverStatus[]; hits: Record<string, Hit[]> } {
  const waivers = ctx.app.waivers;
  const expired = (w: Waiver) => w.expires < ctx.today;
  const matches = (w: Waiver, f: Finding) => w.rule === f.rule && w.path === f.location.path;
  const out = findings.map((f) => {
    const w = waivers.find((x) => !expired(x) && matches(x, f));
    return w === undefined ? f : { ...f, waived: { reason: w.reason, expires: w.expires } };
  });
  const statuses = waivers.map((w, i): WaiverStatus => {
    const status = expired(w) ? "expired" : findings.some((f) => matches(w, f)) ? "active" : "unused";
    return { ...w, status, location: ctx.at(["waivers", i]) };
  });
  const hits: Record<string, Hit[]> = { PAL090: [], PAL091: [] };
  statuses.forEach((w, i) => {
    if (w.status === "expired")
      hits.PAL090?.push({
        message: `The waiver of ${w.rule} at ${w.path} expired on ${w.expires}; it no longer waives anything`,
        fix: `fix the finding and remove waivers[${i}], or renew it with a new expires date and a current reason`,
        location: ctx.at(["waivers", i, "expires"]),
      });
    if (w.status === "unused")
      hits.PAL091?.push({
        message: `The waiver of ${w.rule} at ${w.path} matches no finding`,
        fix: `remove waivers[${i}], or set its path to the one palisade check prints for the finding`,
        location: ctx.at(["waivers", i]),
      });
  });
  return { findings: out, waivers: statuses, hits };
}
