import type { GroupCommitStats } from "../../group-commit.ts";
import type { RecordSealer } from "../event-log.ts";
import { createSealing } from "../sealed-store.ts";
import type { Store, Subscription } from "../store.ts";
import { DEFAULT_DEDUPE_WINDOW_MS, openSqliteRawStore, type SqliteRawStore } from "./sqlite-store.ts";

/** A sealed store on the embedded backend, with what only SQLite has. */
export interface SqliteStore extends Store {
  /** Group-commit counters of the file. */
  readonly stats: GroupCommitStats;
  /** Delivery rows signed when the file was opened (ones from before rows were authenticated). */
  readonly rowsSigned: number;
  /** The backend under the seal (what the disk holds: ciphertext). */
  readonly raw: SqliteRawStore;
}

/** How `openSqliteStore` opens a file. */
export interface SqliteStoreOptions {
  /** Targets routed to; a process that appends names every one (see `RawStoreOptions`). */
  readonly subscriptions: readonly Subscription[];
  /** Seals bodies and errors, and signs delivery rows; none: plain JSON, rows unsigned. */
  readonly sealer?: RecordSealer;
  /** @default DEFAULT_DEDUPE_WINDOW_MS */
  readonly dedupeWindowMs?: number;
}

/** Opens the embedded store at `file`, sealed with `options.sealer` (when given). */
export function openSqliteStore(file: string, options: SqliteStoreOptions): SqliteStore {
  const { sealer } = options;
  const sealing = createSealing(sealer, options.subscriptions);
  const mac = sealer?.mac?.bind(sealer);
  const raw = openSqliteRawStore(file, {
    dedupeWindowMs: options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
    subscriptions: options.subscriptions,
    accepts: sealing.accepts,
    ...(mac === undefined ? {} : { mac }),
    ...(sealer === undefined
      ? {}
      : {
          openLegacy: (body: string, source: string, id: string) =>
            sealer.open(body, `event:${source}\0${id}`),
        }),
  });
  return { ...sealing.wrap(raw), stats: raw.stats, rowsSigned: raw.rowsSigned, raw };
}
