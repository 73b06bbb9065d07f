/** Flash crowds, a hard negative of the function workloads: a burst of benign traffic from a known time. */
import type { RecordRange } from "./injections.ts";
import { MINUTE } from "./traffic.ts";

/** A flash crowd multiplies its functions' traffic by FLASH_FACTOR for FLASH_MS. */
export const FLASH_FACTOR = 25;
export const FLASH_MS = 15 * MINUTE;

/** The traffic factor of flash crowds that start at `starts` (read at each call: it may grow later). */
export function flashCrowds(starts: readonly number[]): (t: number) => number {
  return (t) => (starts.some((f) => t >= f && t < f + FLASH_MS) ? FLASH_FACTOR : 1);
}

/** Records a flash crowd from `at` on each of `fns`: a range per function, as each is scored on its own. */
export function recordFlashCrowd(range: RecordRange, at: number, fns: readonly string[]): void {
  for (const fn of fns)
    range(`flash crowd (${FLASH_FACTOR}×, ${FLASH_MS / MINUTE} min)`, "benign", at, FLASH_MS, fn);
}
