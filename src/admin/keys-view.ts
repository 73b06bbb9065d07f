/**
 * The data keys as an operator sees them, for `palisade keys status` (local, `--nats` or `--url`)
 * and `GET /admin/v1/keys` alike: each version, what it sealed, and how many stored records each
 * store holds under it. Never key material.
 */

export interface KeysStatus {
  readonly active: number;
  readonly versions: readonly {
    readonly version: number;
    readonly createdAt: string;
    readonly retired: boolean;
    /** Records it has sealed since it was made. */
    readonly seals: number;
    readonly active: boolean;
    /** Stored records each store holds under it. */
    readonly records: Readonly<Record<string, number>>;
  }[];
  /** Records stored in plaintext (from before encryption). */
  readonly plaintext: number;
  /** Records still sealed with an older version (what a rotation's re-encryption has left). */
  readonly stale: number;
}

/** How many stored records of one store each data key version seals (0: plaintext). */
export interface SealedCounts {
  readonly store: string;
  readonly counts: ReadonlyMap<number, number>;
}

/** The status of a key ring (file or NATS) over the stores it seals. */
export function keysStatusOf(
  keyRing: {
    versions(): { version: number; createdAt: string; retired: boolean; seals: number }[];
    activeVersion(): number;
  },
  perStore: readonly SealedCounts[],
): KeysStatus {
  const active = keyRing.activeVersion();
  const count = (pick: (version: number) => boolean) =>
    perStore.reduce((n, s) => n + [...s.counts].reduce((m, [v, c]) => m + (pick(v) ? c : 0), 0), 0);
  return {
    active,
    versions: keyRing.versions().map((v) => ({
      version: v.version,
      createdAt: v.createdAt,
      retired: v.retired,
      seals: v.seals,
      active: v.version === active,
      records: Object.fromEntries(perStore.map((s) => [s.store, s.counts.get(v.version) ?? 0])),
    })),
    plaintext: count((v) => v === 0),
    stale: count((v) => v !== 0 && v !== active),
  };
}
