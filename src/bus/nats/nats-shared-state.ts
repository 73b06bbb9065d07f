/**
 * Shared state in a KV bucket: named values (`c.<name>`: cursors and counters alike, so `cursor` reads
 * what `increment` counted) and leases (`l.<name>`).
 * Counters and leases change by compare-and-set on the key's revision, retried on conflict, so they
 * are atomic across every node (on nats-server >= 2.9.21 for replicated buckets; the connect step
 * refuses older servers for R>1). Leases compare `expiresAt` with the local clock: nodes' clocks
 * must agree to well within a lease's length.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import { PalisadeError } from "../../errors.ts";
import { BUS_STORAGE } from "../errors.ts";
import type { SharedState } from "../store.ts";
import { decodeToken, encodeToken } from "./names.ts";

const MAX_TRIES = 100;

/** The shared state of one app, over its state bucket. */
export function createNatsSharedState(kv: KV): SharedState {
  const live = (e: KvEntry | null): KvEntry | undefined =>
    e !== null && e.operation === "PUT" ? e : undefined;

  /** Writes `value` over `entry` (or creates it); false when another node changed it first. */
  async function swap(key: string, entry: KvEntry | undefined, value: string): Promise<boolean> {
    try {
      if (entry === undefined) await kv.create(key, value);
      else await kv.update(key, value, entry.revision);
      return true;
    } catch (err) {
      if (/wrong last sequence|exists/i.test(String(err))) return false;
      throw err;
    }
  }

  return {
    async cursor(name) {
      const e = live(await kv.get(`c.${encodeToken(name)}`));
      return e === undefined ? 0 : Number(e.string());
    },
    async setCursor(name, value) {
      await kv.put(`c.${encodeToken(name)}`, String(value));
    },
    async list(prefix) {
      // Names are encoded token by token, so the prefix is matched on the decoded names.
      const names: string[] = [];
      for await (const key of await kv.keys("c.*")) {
        const name = decodeToken(key.slice(2));
        if (name.startsWith(prefix)) names.push(name);
      }
      const found: { name: string; value: number }[] = [];
      for (const name of names.sort()) {
        const e = live(await kv.get(`c.${encodeToken(name)}`));
        const value = e === undefined ? 0 : Number(e.string());
        if (value !== 0) found.push({ name, value });
      }
      return found;
    },
    async increment(name, by, max) {
      const key = `c.${encodeToken(name)}`;
      for (let i = 0; i < MAX_TRIES; i++) {
        const e = live(await kv.get(key));
        const next = (e === undefined ? 0 : Number(e.string())) + by;
        if (next > max) return undefined;
        if (await swap(key, e, String(next))) return next;
      }
      throw new PalisadeError(
        BUS_STORAGE,
        `Cannot increment "${name}": other nodes changed it first ${MAX_TRIES} times in a row; try again`,
        { retryable: true, status: 503 },
      );
    },
    async lease(name, holder, ttlMs) {
      const key = `l.${encodeToken(name)}`;
      for (let i = 0; i < MAX_TRIES; i++) {
        const e = live(await kv.get(key));
        const now = Date.now();
        if (e !== undefined) {
          const held = e.json<{ holder: string; expiresAt: number }>();
          if (held.holder !== holder && held.expiresAt > now) return false;
        }
        if (await swap(key, e, JSON.stringify({ holder, expiresAt: now + ttlMs }))) return true;
      }
      return false;
    },
  };
}
