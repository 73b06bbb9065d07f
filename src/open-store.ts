/**
 * Opens an app's store: picks the backend (SQLite `<dataDir>/events.db` on one machine, or a NATS
 * JetStream backend shared by many), seals it with the app's key ring unless encryption at rest is
 * off, and routes to the app's functions (their types and compiled content filters).
 */
import { join } from "node:path";
import {
  createSealing,
  openSqliteStore,
  type RawStore,
  type RawStoreOptions,
  type RecordSealer,
  type Store,
  type Subscription,
} from "./bus/index.ts";
import { type CloudEvent, compileFilter, type EventFilter } from "./events/index.ts";
import type { GroupCommitStats } from "./group-commit.ts";
import { type AppModel, deliveryTargets } from "./manifest/index.ts";

/** The app's event store file, inside its data dir. */
export const EVENTS_FILE = "events.db";

/** A distributed backend: how to open it with the options every backend gets (wired in main.ts). */
export interface NatsBackend {
  open(options: RawStoreOptions): Promise<RawStore>;
}

export interface StoreOptions {
  /** Seals bodies and errors and signs delivery rows (the app's key ring); none: plaintext. */
  readonly sealer?: RecordSealer | undefined;
  /** Use this distributed backend instead of the SQLite file. */
  readonly nats?: NatsBackend | undefined;
  /** Route to these targets instead of the app's functions (none: a tool that only reads or re-seals). */
  readonly subscriptions?: readonly Subscription[];
}

/** An app's store, with what only some backends report. */
export interface AppStore extends Store {
  /** Delivery rows signed when the store was opened (SQLite rows from before rows were authenticated). */
  readonly rowsSigned: number;
  /** Group-commit counters (SQLite only). */
  readonly stats?: GroupCommitStats;
}

/** Opens `app`'s store with `options` (see `StoreOptions`). */
export async function openStore(app: AppModel, options: StoreOptions = {}): Promise<AppStore> {
  const subscriptions = options.subscriptions ?? subscriptionsOf(app);
  const dedupeWindowMs = app.dedupeWindowSec * 1000;
  const { sealer, nats } = options;
  if (nats !== undefined) {
    const sealing = createSealing(sealer, subscriptions);
    const mac = sealer?.mac?.bind(sealer);
    const raw = await nats.open({
      dedupeWindowMs,
      subscriptions,
      accepts: sealing.accepts,
      ...(mac === undefined ? {} : { mac }),
    });
    return { ...sealing.wrap(raw), rowsSigned: 0 };
  }
  return openSqliteStore(join(app.dataDir, EVENTS_FILE), {
    subscriptions,
    dedupeWindowMs,
    ...(sealer === undefined ? {} : { sealer }),
  });
}

/**
 * Who receives what: each function's and sink's types and compiled content filter. A target that
 * takes only verified events (requireVerified) is never routed an event without `verified`.
 */
export function subscriptionsOf(app: AppModel): Subscription[] {
  return deliveryTargets(app).map((t) => {
    const content = t.filter === undefined ? undefined : compiledFilter(t.filter);
    const filter: EventFilter | undefined = t.requireVerified
      ? (event) => (event as CloudEvent).verified !== undefined && (content === undefined || content(event))
      : content;
    return { name: t.target, on: t.on, ...(filter === undefined ? {} : { filter }) };
  });
}

// The manifest loader already refused invalid patterns, so this compiles.
function compiledFilter(pattern: object): EventFilter {
  const filter = compileFilter(pattern);
  if (Array.isArray(filter))
    throw new Error(`invalid filter passed the manifest check: ${JSON.stringify(filter)}`);
  return filter;
}
