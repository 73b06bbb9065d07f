/**
 * Capability use of a NATS deployment, for `palisade permissions report --nats`: one KV bucket per
 * app that every node writes its own counts to. A node keeps its running totals in memory and puts
 * them under keys of its own (`<node>.<row hash>`) every USAGE_FLUSH_MS and on close; the reader adds
 * up every node's rows. No key has two writers, so concurrent workers never lose an increment, and
 * writing a total (not an increment) is idempotent: a put retried after an unknown outcome cannot
 * count twice, which a compare-and-set increment could. The cost is one set of keys per process run
 * (a restart starts a new node id); history 1 keeps only each key's latest total.
 */
import { createHash, randomBytes } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { mergeUsage, tallyUse, type UsageRow, type UsageStore, type UsageTally } from "./usage-rows.ts";
import { USAGE_FLUSH_MS } from "./usage-store.ts";

export interface NatsUsageOptions {
  /** Copies of the bucket (the deployment's replicas). */
  readonly replicas: number;
  /** Called when a batch could not be written (it is tried again with the next one). */
  readonly onError?: (err: unknown) => void;
}

/** Opens (creating when missing) the usage bucket `bucket` and writes this process's counts to it. */
export async function openNatsUsageStore(
  nc: NatsConnection,
  bucket: string,
  options: NatsUsageOptions,
): Promise<UsageStore> {
  const kv = await new Kvm(jetstream(nc)).create(bucket, { replicas: options.replicas, history: 1 });
  const node = randomBytes(8).toString("hex");
  const totals: UsageTally = new Map();
  let dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // One write at a time: a node's later total must never be overwritten by an earlier one.
  let writing: Promise<void> = Promise.resolve();

  async function write(keys: Set<string>): Promise<void> {
    try {
      await Promise.all([...keys].map((k) => kv.put(`${node}.${rowId(k)}`, JSON.stringify(totals.get(k)))));
    } catch (err) {
      for (const k of keys) dirty.add(k); // totals: the next write carries these too
      throw err;
    }
  }
  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    const keys = dirty;
    dirty = new Set();
    writing = writing.catch(() => undefined).then(() => (keys.size === 0 ? undefined : write(keys)));
    return writing;
  }
  function schedule(): void {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => {
      flush().catch((err) => {
        options.onError?.(err);
        schedule();
      });
    }, USAGE_FLUSH_MS);
    timer.unref();
  }

  return {
    record(fn, kind, target, outcome, reason) {
      if (closed) return;
      dirty.add(tallyUse(totals, fn, kind, target, outcome, reason));
      schedule();
    },
    async rows() {
      if (!closed) await flush();
      return readNatsUsage(kv);
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      await flush().catch((err) => options.onError?.(err));
    },
  };
}

/** Every node's rows in `kv`, added up per function, kind, target and outcome. */
async function readNatsUsage(kv: KV): Promise<UsageRow[]> {
  const rows: UsageRow[] = [];
  for await (const e of await kv.history()) {
    const row = e.operation === "PUT" ? parseRow(e.string()) : undefined;
    if (row !== undefined) rows.push(row);
  }
  return mergeUsage(rows);
}

const KINDS: ReadonlySet<string> = new Set(["emit", "secret", "egress", "kv-read", "kv-write"]);

/** A row's key part: fixed length and valid in a KV key whatever the target holds. */
function rowId(tallyKey: string): string {
  return createHash("sha256").update(tallyKey).digest("hex").slice(0, 32);
}

/** A stored row, or undefined when the value is not one (it is skipped, not trusted). */
function parseRow(text: string): UsageRow | undefined {
  try {
    const r = JSON.parse(text) as Partial<UsageRow>;
    // A negative count added to a real row would hide its use (and `permissions suggest` drop the grant).
    const ok =
      typeof r.fn === "string" &&
      KINDS.has(r.kind as string) &&
      typeof r.target === "string" &&
      (r.outcome === "used" || r.outcome === "denied") &&
      Number.isSafeInteger(r.count) &&
      (r.count as number) >= 0 &&
      Number.isFinite(r.lastAt) &&
      (r.lastReason === null || typeof r.lastReason === "string");
    return ok ? (r as UsageRow) : undefined;
  } catch {
    return undefined;
  }
}
