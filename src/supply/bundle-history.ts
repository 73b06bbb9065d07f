import { existsSync, readFileSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { SUPPLY_DOWNGRADE, SUPPLY_MALFORMED } from "./errors.ts";
import { writeFileAtomic } from "./function-files.ts";
import type { VerifiedBundle } from "./verify-function.ts";

/** Where the build time of the last bundle accepted per function is kept, in the app's `.palisade/`. */
export const BUNDLE_HISTORY_FILE = "bundle-history.json";

interface Accepted {
  /** Signing time from the attestation; null for attestations that carry none (the oldest). */
  builtAt: string | null;
  sha256: string;
  acceptedAt: string;
}

/**
 * Admits a verified bundle of function `name` against the last one accepted (kept in `file`):
 * refuses one signed earlier than that (a rollback to an older, validly signed build) with
 * PAL_SUPPLY_DOWNGRADE, unless `allowDowngrade`. Records the admitted bundle as the new reference;
 * returns the build time it replaced when it went back in time.
 */
export function admitBundle(
  file: string,
  name: string,
  verified: VerifiedBundle,
  allowDowngrade: boolean,
): { downgradedFrom?: string } {
  const history = readHistory(file);
  const last = history[name];
  const builtAt = verified.builtAt ?? null;
  // ISO 8601 UTC times in one format sort as text; no time at all sorts before every time.
  const older = last !== undefined && (builtAt ?? "") < (last.builtAt ?? "");
  if (older && !allowDowngrade) {
    throw new PalisadeError(
      SUPPLY_DOWNGRADE,
      `Refusing function "${name}": its bundle was built ${builtAt ?? "before build times were recorded"}, before the one last run (built ${last.builtAt}, sha256 ${last.sha256.slice(0, 12)}…); rebuild it with palisade build, or pass --allow-downgrade to run the older build on purpose`,
      { details: { builtAt, lastBuiltAt: last.builtAt, lastSha256: last.sha256, sha256: verified.sha256 } },
    );
  }
  if (last?.sha256 !== verified.sha256 || last.builtAt !== builtAt) {
    history[name] = { builtAt, sha256: verified.sha256, acceptedAt: new Date().toISOString() };
    writeFileAtomic(file, `${JSON.stringify(history, null, 2)}\n`);
  }
  return older && last?.builtAt ? { downgradedFrom: last.builtAt } : {};
}

function readHistory(file: string): Record<string, Accepted> {
  if (!existsSync(file)) return {};
  try {
    const json: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("not an object");
    for (const entry of Object.values(json)) {
      const e = entry as Partial<Accepted> | null;
      if (typeof e?.sha256 !== "string" || !(typeof e.builtAt === "string" || e.builtAt === null))
        throw new Error("an entry has no sha256 or builtAt");
    }
    return json as Record<string, Accepted>;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PalisadeError(
      SUPPLY_MALFORMED,
      `Cannot read "${file}" (${reason}): it records the last bundle run per function, to refuse older ones; restore it from a backup, or delete it to accept the bundles in dist/ as they are`,
      { cause: err },
    );
  }
}
