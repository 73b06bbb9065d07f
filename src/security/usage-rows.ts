/**
 * The record of capability use: its rows, the store interface, and counting calls in memory between
 * writes (both stores share it: the SQLite file adds each batch to its rows; on NATS each node puts
 * its running totals).
 */

/** What a capability call touched. */
export type CapabilityKind = "emit" | "secret" | "egress" | "kv-read" | "kv-write";

export interface UsageRow {
  fn: string;
  kind: CapabilityKind;
  /** Event type, secret name, `scheme://host:port`, or kv namespace. */
  target: string;
  outcome: "used" | "denied";
  count: number;
  /** Last time seen (ms). */
  lastAt: number;
  /** The most recent refusal message, for denials. */
  lastReason: string | null;
}

export interface UsageStore {
  /** Counts one call; written later, in a batch (never on the caller's path). */
  record(fn: string, kind: CapabilityKind, target: string, outcome: "used" | "denied", reason?: string): void;
  /** Every row (of every node, on NATS), by function, kind and target. */
  rows(): Promise<UsageRow[]>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Rows by function, kind, target and outcome. */
export type UsageTally = Map<string, UsageRow>;

/** Counts one call in `tally`; returns the row's key. */
export function tallyUse(
  tally: UsageTally,
  fn: string,
  kind: CapabilityKind,
  target: string,
  outcome: UsageRow["outcome"],
  reason: string | undefined,
): string {
  const key = `${fn}\0${kind}\0${target}\0${outcome}`;
  const row = tally.get(key);
  if (row === undefined) {
    tally.set(key, { fn, kind, target, outcome, count: 1, lastAt: Date.now(), lastReason: reason ?? null });
  } else {
    row.count += 1;
    row.lastAt = Date.now();
    if (reason !== undefined) row.lastReason = reason;
  }
  return key;
}

/** Rows of several writers (nodes) merged: counts added, the latest time and reason kept. */
export function mergeUsage(rows: Iterable<UsageRow>): UsageRow[] {
  const merged: UsageTally = new Map();
  for (const r of rows) {
    const key = `${r.fn}\0${r.kind}\0${r.target}\0${r.outcome}`;
    const m = merged.get(key);
    if (m === undefined) merged.set(key, { ...r });
    else {
      m.count += r.count;
      if (r.lastAt >= m.lastAt) {
        m.lastAt = r.lastAt;
        m.lastReason = r.lastReason ?? m.lastReason;
      }
    }
  }
  const order = (r: UsageRow) => [r.fn, r.kind, r.target, r.outcome].join("\0");
  return [...merged.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}
