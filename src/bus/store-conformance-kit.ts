import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { type CloudEvent, compileFilter, createEvent, type EventFilter } from "../events/index.ts";
import type { Delivery, RecordSealer, RefusedDelivery } from "./event-log.ts";
import type { RawStore, Store, Subscription } from "./store.ts";

/** How the suite opens a store; every open of one backing store sees the same data. */
export interface ConformanceOptions {
  readonly dedupeWindowMs?: number;
  readonly subscriptions?: readonly Subscription[];
  readonly sealer?: RecordSealer;
}

/** A sealed store and the backend under it (the suite looks at, and tampers with, what it holds). */
export interface ConformanceStore extends Store {
  readonly raw: RawStore;
}

export type OpenStore = (options?: ConformanceOptions) => ConformanceStore | Promise<ConformanceStore>;

/** Makes a fresh, empty backing store (a file, a JetStream stream) and says how to open it. */
export type NewStore = () => OpenStore;

/** A content filter the suite routes with: `data.n` greater than 1. */
export const BIG: EventFilter = (() => {
  const f = compileFilter({ data: { n: [{ numeric: [">", 1] }] } });
  if (Array.isArray(f)) throw new Error("the suite's filter does not compile");
  return f;
})();

/** f: every `t.*`; g: `t.x` with n > 1; h: `t.y` only. */
export const SUBS: readonly Subscription[] = [
  { name: "f", on: ["t.*"] },
  { name: "g", on: ["t.x"], filter: BIG },
  { name: "h", on: ["t.y"] },
];

export function event(n: number, id?: string, principal = "p", source = "test", type = "t.x"): CloudEvent {
  return createEvent({ type, data: { n }, ...(id ? { id } : {}) }, { principal, source, hop: 0 });
}

/** Opens a store with the suite's subscriptions (unless given), closed when the test ends. */
export async function opened(
  t: TestContext,
  open: OpenStore,
  options: ConformanceOptions = {},
): Promise<ConformanceStore> {
  const store = await open({ subscriptions: SUBS, ...options });
  t.after(() => store.close());
  return store;
}

/** Polls `check` until it returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Takes from `target` until `n` deliveries came (backends may route asynchronously). */
export async function takeN(
  store: Store,
  target: string,
  n: number,
): Promise<(Delivery | RefusedDelivery)[]> {
  const got: (Delivery | RefusedDelivery)[] = [];
  await eventually(async () => {
    got.push(...(await store.queue.take(target, n - got.length)));
    return got.length >= n ? true : undefined;
  }, `${n} deliveries for "${target}"`);
  return got;
}

/** The ids (or `id:reason` when refused) of taken deliveries, in order. */
export function idsOf(taken: readonly (Delivery | RefusedDelivery)[]): string[] {
  return taken.map((d) => ("refused" in d ? `${d.eventId}:${d.refused.reason}` : d.event.id));
}

/** Reference of a taken delivery, as `settle` wants it. */
export function refOf(d: Delivery | RefusedDelivery) {
  return "refused" in d
    ? d
    : { seq: d.seq, target: d.target, attempts: d.attempts, eventId: d.event.id, type: d.event.type };
}

/**
 * A real sealer for the suite (AES-256-GCM per key version, the record as associated data, text
 * `tv<version>.<base64url>`), whose active version `rotate()` moves on.
 */
export function createTestSealer(): RecordSealer & { rotate(): number } {
  let active = 1;
  const key = (v: number) => createHash("sha256").update(`conformance-key-${v}`).digest();
  const versionOf = (sealed: string) => {
    const m = /^tv(\d+)\./.exec(sealed);
    return m === null ? 0 : Number(m[1]);
  };
  return {
    seal(plaintext, record) {
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key(active), iv).setAAD(Buffer.from(record));
      const body = Buffer.concat([iv, c.update(plaintext, "utf8"), c.final(), c.getAuthTag()]);
      return `tv${active}.${body.toString("base64url")}`;
    },
    open(sealed, record) {
      const v = versionOf(sealed);
      if (v === 0) throw new Error("not sealed");
      const raw = Buffer.from(sealed.slice(sealed.indexOf(".") + 1), "base64url");
      const d = createDecipheriv("aes-256-gcm", key(v), raw.subarray(0, 12)).setAAD(Buffer.from(record));
      d.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString("utf8");
    },
    versionOf,
    activeVersion: () => active,
    mac: (text) => createHmac("sha256", "conformance-mac").update(text).digest("base64url"),
    rotate: () => ++active,
  };
}
