import { PalisadeError } from "../errors.ts";
import { GUARD_CHECK_FAILED } from "./errors.ts";
import { formatLocation } from "./format-check-text.ts";
import { type CheckReport, unwaivedHigh } from "./run-checks.ts";

/**
 * The gate of `palisade start` and `build`: undefined when `report` has no unwaived high finding,
 * else the error to throw, naming each finding and how to fix or waive it.
 */
export function checkGate(report: CheckReport, action: "start" | "build"): PalisadeError | undefined {
  const blocking = unwaivedHigh(report);
  if (blocking.length === 0) return undefined;
  const lines = blocking.map((f) => `  ${f.rule} ${formatLocation(f)}: ${f.message}; fix: ${f.fix}`);
  return new PalisadeError(
    GUARD_CHECK_FAILED,
    `Refusing to ${action} "${report.app}": palisade check found ${blocking.length} unwaived high-severity finding(s):\n` +
      `${lines.join("\n")}\n` +
      'Fix each, or waive it in palisade.yaml under waivers: with rule, path, reason and expires (run "palisade check" for the full report)',
    { details: blocking.map((f) => ({ rule: f.rule, path: f.location.path, message: f.message })) },
  );
}
