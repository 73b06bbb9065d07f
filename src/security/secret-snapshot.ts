/**
 * What every secret store does with its current snapshot, whichever backs it (`secrets.json`, or
 * the document a NATS deployment shares): reading values (the current one, and the previous one
 * while a rotation's grace period lasts), listing names, counting values per data key version; and
 * the changes `set`, `rotate` and re-sealing make to the entries in plaintext before they are
 * written as the next generation.
 */
import { PalisadeError } from "../errors.ts";
import { SECURITY_SECRET_MISSING } from "./errors.ts";
import type { Sealer } from "./key-ring.ts";
import { previousRecord, type SecretEntry, type SecretsSnapshot, valueRecord } from "./secrets-file.ts";

/** The reads of a secret store whose newest trusted snapshot `read` returns. */
export function snapshotReads(read: () => SecretsSnapshot, sealer: Sealer) {
  const open = (s: SecretsSnapshot, name: string): string | undefined => {
    const e = s.entries[name];
    return e === undefined ? undefined : sealer.open(e.value, valueRecord(name, s.generation));
  };
  return {
    get: (name: string): string | undefined => open(read(), name),
    values(name: string): string[] {
      const s = read();
      const e = s.entries[name];
      const current = open(s, name);
      if (e === undefined || current === undefined) return [];
      if (!inGrace(e) || e.previous === undefined) return [current];
      return [current, sealer.open(e.previous, previousRecord(name, s.generation, e.previousUntil))];
    },
    list(): { name: string; previousUntil?: string }[] {
      return Object.entries(read().entries)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, e]) =>
          inGrace(e) ? { name, previousUntil: new Date(e.previousUntil ?? 0).toISOString() } : { name },
        );
    },
    versions(): Map<number, number> {
      const counts = new Map<number, number>();
      for (const v of sealedValues(read())) {
        const version = sealer.versionOf(v);
        counts.set(version, (counts.get(version) ?? 0) + 1);
      }
      return counts;
    },
    /** Values not sealed with the active data key. */
    stale(): number {
      const active = sealer.activeVersion();
      return [...sealedValues(read())].filter((v) => sealer.versionOf(v) !== active).length;
    },
  };
}

/** Replaces `name`'s value in `plain`; the old one stays valid for `graceSec` seconds. */
export function rotateEntry(
  plain: Record<string, SecretEntry>,
  name: string,
  value: string,
  graceSec: number,
) {
  const old = plain[name];
  if (old === undefined)
    throw new PalisadeError(SECURITY_SECRET_MISSING, `Secret "${name}" is not set; use secrets set first`);
  plain[name] = { value, previous: old.value, previousUntil: Date.now() + graceSec * 1000 };
}

/** Drops previous values whose grace period is over (before everything is sealed again). */
export function dropExpired(plain: Record<string, SecretEntry>): void {
  for (const e of Object.values(plain))
    if (!inGrace(e)) {
      delete e.previous;
      delete e.previousUntil;
    }
}

/** Every sealed value of `s` (current and previous ones). */
export function* sealedValues(s: SecretsSnapshot): Generator<string> {
  for (const e of Object.values(s.entries)) {
    yield e.value;
    if (e.previous !== undefined) yield e.previous;
  }
}

function inGrace(e: SecretEntry): boolean {
  return e.previous !== undefined && (e.previousUntil ?? 0) > Date.now();
}
