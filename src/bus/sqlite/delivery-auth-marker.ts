import { timingSafeEqual } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

/**
 * Proof, kept outside the log file, that a log's delivery rows carry authentication codes: the file
 * `<log>.authenticated` holds the key ring's HMAC over the log's name. Dropping the `mac` column
 * would otherwise make a log look like one from before codes existed, whose rows are signed once on
 * open, planted ones included; with this file present that log is refused instead. Deleting this
 * file too still lets the backfill run, so every backfill is also reported (and audited by callers).
 */
export interface DeliveryAuthMarker {
  /** The log file it vouches for. */
  readonly log: string;
  /** The marker file. */
  readonly path: string;
  /** Whether the marker file is present and was written with this platform's key. */
  verifies(): boolean;
  /** Writes the marker (no-op without a key, or when a verifying one is already there). */
  write(): void;
}

export function deliveryAuthMarker(
  log: string,
  mac: ((text: string) => string) | undefined,
): DeliveryAuthMarker {
  const path = `${log}.authenticated`;
  const expected = mac?.(["palisade.delivery-rows-authenticated.v1", basename(log)].join("\0"));
  const verifies = (): boolean => {
    if (expected === undefined) return false;
    let found: string;
    try {
      found = readFileSync(path, "utf8").trim();
    } catch {
      return false;
    }
    return found.length === expected.length && timingSafeEqual(Buffer.from(found), Buffer.from(expected));
  };
  return {
    log,
    path,
    verifies,
    write() {
      if (expected !== undefined && !verifies()) writeFileSync(path, `${expected}\n`, { mode: 0o600 });
    },
  };
}
