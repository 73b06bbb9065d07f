import type { Waiver } from "./app-model.ts";
import type { Problem } from "./problem.ts";

/**
 * Resolves `waivers`: the shape (rule, path, a non-blank reason, a YYYY-MM-DD expiry) is the
 * schema's; here each expiry must also be a real calendar day. Whether a waiver matches a finding,
 * or has expired, is for `palisade check` to say.
 */
export function resolveWaivers(raw: readonly Waiver[], problems: Problem[]): readonly Waiver[] {
  raw.forEach((w, i) => {
    if (isCalendarDay(w.expires)) return;
    problems.push({
      path: ["waivers", i, "expires"],
      message: `"${w.expires}" is not a calendar day; write the last day the waiver applies as YYYY-MM-DD`,
    });
  });
  return Object.freeze(raw.map((w) => Object.freeze({ ...w, reason: w.reason.trim() })));
}

function isCalendarDay(day: string): boolean {
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(day);
}
