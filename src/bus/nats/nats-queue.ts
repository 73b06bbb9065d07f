/**
 * Taking and settling deliveries on JetStream. `take` hands out what the target's pullers have
 * buffered (never waiting on the broker); `settle` writes the outcome record first and then acks
 * (delivered, skipped), naks with a delay (retry) or terminates (failed, plus a dead-letter entry).
 * A crash between the two leaves the message to come back after the lease; `take` then finds the
 * finished record for that same message and acks it without handing it out again. The same check
 * suppresses a duplicate after a leader failover (which may arrive with delivery count 1).
 *
 * Leases: a message is leased for `ack_wait` from the moment it arrives in a buffer; while this store
 * holds it (buffered or taken and not settled) a heartbeat (`working()`) every third of `ack_wait`
 * keeps the lease, so a long invocation is not handed to another worker, and a dead process's work
 * comes back `ack_wait` after its last heartbeat.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { DeliveryRef, Outcome } from "../event-log.ts";
import type { RawDelivery, Wake } from "../store.ts";
import { ensureReplayConsumer, listRoutes, type Route } from "./delivery-consumers.ts";
import { eventOf } from "./event-codec.ts";
import { encodeToken, type NatsNames } from "./names.ts";
import type { NatsEvents } from "./nats-events.ts";
import type { NatsResources } from "./nats-resources.ts";
import type { OutcomeLog } from "./outcome-records.ts";
import { type Puller, startPuller } from "./puller.ts";
import { replayOf } from "./replay-messages.ts";

/** What the queue is built from. */
export interface QueueContext {
  readonly res: NatsResources;
  readonly names: NatsNames;
  readonly events: NatsEvents;
  readonly outcomes: OutcomeLog;
  readonly ackWaitMs: number;
  readonly prefetch: number;
  readonly fetchExpiresMs: number;
  readonly mac: ((text: string) => string) | undefined;
  /** The targets this store takes for: `watch` starts their fetch loops (arrivals are its wake-ups). */
  readonly targets: readonly string[];
}

/** The taking side of the queue. */
export interface NatsTaker {
  take(target: string, limit: number): Promise<RawDelivery[]>;
  settle(delivery: DeliveryRef, outcome: Outcome | { readonly kind: "skipped" }): Promise<void>;
  giveBack(delivery: DeliveryRef): void;
  watch(wake: Wake): () => void;
  /** Stops the pullers and gives back (naks) what was buffered; taken, unsettled work waits out its lease. */
  close(): Promise<void>;
}

interface Held {
  readonly msg: JsMsg;
  readonly src: string;
}

/** The taker of one store. */
export function createNatsTaker(ctx: QueueContext): NatsTaker {
  const { res, names } = ctx;
  const pullers = new Map<string, { target: string; replay: boolean; puller: Puller }>();
  const held = new Map<string, Held[]>();
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of wakers) w();
  };
  const heartbeat = setInterval(
    () => {
      for (const p of pullers.values()) for (const m of p.puller.buffered()) m.working();
      for (const list of held.values()) for (const h of list) h.msg.working();
    },
    Math.max(100, Math.floor(ctx.ackWaitMs / 3)),
  );
  heartbeat.unref();
  let closed = false;

  function pull(stream: string, name: string, target: string, replay: boolean): void {
    if (pullers.has(`${stream}/${name}`)) return;
    const puller = startPuller(res.js, stream, name, {
      prefetch: ctx.prefetch,
      expiresMs: ctx.fetchExpiresMs,
      onArrival: wake,
    });
    pullers.set(`${stream}/${name}`, { target, replay, puller });
  }

  const started = new Set<string>();
  async function startTarget(target: string): Promise<void> {
    if (started.has(target)) return;
    started.add(target);
    const routes: Route[] = (await listRoutes(res.jsm, names)).filter((r) => r.target === target);
    for (const r of routes) pull(names.eventsStream, r.name, target, false);
    const replay = await ensureReplayConsumer(res.jsm, names, target, ctx.ackWaitMs);
    pull(names.replaysStream, replay, target, true);
  }

  function hold(seq: number, target: string, h: Held): void {
    const key = `${seq}\n${target}`;
    held.set(key, [...(held.get(key) ?? []), h]);
  }

  function release(seq: number, target: string): Held | undefined {
    const key = `${seq}\n${target}`;
    const list = held.get(key);
    const h = list?.shift();
    if (list !== undefined && list.length === 0) held.delete(key);
    return h;
  }

  /**
   * Whether this message's outcome is already recorded (a redelivery after a crash or failover);
   * otherwise its attempts: JetStream's delivery count, less the deliveries give-backs caused.
   */
  async function recorded(m: JsMsg, seq: number, target: string, src: string): Promise<"settled" | number> {
    const last = await ctx.outcomes.last(seq, target);
    const counted = Math.max(0, m.info.deliveryCount - 1);
    if (last === undefined || !("src" in last) || last.src !== src) return counted;
    if (last.kind === "delivered" || last.kind === "failed" || last.kind === "skipped") return "settled";
    // Attempts as recorded, plus the redeliveries since that no give-back explains (a lease that ran out).
    if ((last.kind === "returned" || last.kind === "retry") && last.deliveries !== undefined)
      return last.attempts + Math.max(0, m.info.deliveryCount - last.deliveries - 1);
    return counted;
  }

  async function toDelivery(m: JsMsg, target: string, replay: boolean): Promise<RawDelivery | undefined> {
    if (!replay) {
      const record = eventOf(m.seq, m.headers, m.data);
      if (record === undefined) {
        m.term(); // not an event this platform wrote (no headers): nothing to deliver or refuse
        return undefined;
      }
      const attempts = await recorded(m, m.seq, target, "e");
      if (attempts === "settled") {
        m.ack();
        return undefined;
      }
      hold(m.seq, target, { msg: m, src: "e" });
      return { seq: m.seq, target, attempts, record };
    }
    const src = `r${m.seq}`;
    const request = replayOf(m, target, ctx.mac);
    const record = request.seq > 0 ? await ctx.events.get(request.seq) : undefined;
    if (record === undefined) {
      m.term(); // the event is gone (pruned after the replay was asked for): nothing to deliver
      return undefined;
    }
    const attempts = await recorded(m, record.seq, target, src);
    if (attempts === "settled") {
      m.ack();
      return undefined;
    }
    hold(record.seq, target, { msg: m, src });
    const base = { seq: record.seq, target, attempts, record };
    if (!request.authentic)
      return {
        ...base,
        refused: {
          reason: "unauthenticated",
          error: `Cannot replay event "${record.id}" to "${target}": the replay request was not written by this platform (authentication code missing or wrong)`,
        },
      };
    return request.replay === undefined ? base : { ...base, replay: request.replay };
  }

  return {
    async take(target, limit) {
      if (closed || limit <= 0) return [];
      await startTarget(target);
      const mine = [...pullers.values()].filter((p) => p.target === target);
      const taken: { m: JsMsg; replay: boolean }[] = [];
      for (const p of mine.filter((x) => !x.replay))
        for (const m of p.puller.take(limit - taken.length)) taken.push({ m, replay: false });
      taken.sort((a, b) => a.m.seq - b.m.seq);
      for (const p of mine.filter((x) => x.replay))
        for (const m of p.puller.take(limit - taken.length)) taken.push({ m, replay: true });
      // Each message on its own: one whose outcome cannot be read now (a failover) must not take
      // the others down with it, which would leave them held, heartbeated and never handed out.
      const results = await Promise.allSettled(taken.map(({ m, replay }) => toDelivery(m, target, replay)));
      const out: RawDelivery[] = [];
      let failure: unknown;
      for (const [i, r] of results.entries()) {
        if (r.status === "fulfilled") {
          if (r.value !== undefined) out.push(r.value);
          continue;
        }
        failure ??= r.reason;
        try {
          taken[i]?.m.nak(); // not held: back to the stream for a later take
        } catch {
          // The connection is closing: the message comes back after its lease instead.
        }
      }
      if (out.length === 0 && failure !== undefined) throw failure;
      return out;
    },
    giveBack(ref) {
      const h = release(ref.seq, ref.target);
      if (h === undefined) return;
      // Back to the stream, unattempted: the record says the redelivery this causes is no attempt.
      // Written before the nak, so whoever takes it next reads it; a failed write still gives it
      // back (it is then charged one attempt, the same as a lease that ran out).
      const record = {
        kind: "returned" as const,
        attempts: ref.attempts,
        deliveries: h.msg.info.deliveryCount,
        at: Date.now(),
        src: h.src,
      };
      void ctx.outcomes
        .write(ref.seq, ref.target, record)
        .catch(() => {})
        .finally(() => {
          try {
            h.msg.nak();
          } catch {
            // The connection is closing: the message comes back after its lease instead.
          }
        });
    },
    async settle(ref, outcome) {
      const h = release(ref.seq, ref.target);
      const src = h?.src ?? "e";
      const at = Date.now();
      const attempts = ref.attempts + 1;
      if (outcome.kind === "skipped") {
        await ctx.outcomes.write(ref.seq, ref.target, { kind: "skipped", at, src });
        h?.msg.ack();
      } else if (outcome.kind === "delivered") {
        await ctx.outcomes.write(ref.seq, ref.target, { kind: "delivered", attempts, at, src });
        // Not waited for: an ack that is lost brings the message back after its lease, and the
        // outcome record just written makes `take` ack it then without running it again.
        h?.msg.ack();
      } else if (outcome.kind === "retry") {
        await ctx.outcomes.write(ref.seq, ref.target, {
          kind: "retry",
          attempts,
          error: outcome.error,
          at,
          src,
          ...(h === undefined ? {} : { deliveries: h.msg.info.deliveryCount }),
        });
        h?.msg.nak(Math.max(0, outcome.at - at));
      } else {
        const { reason, error } = outcome;
        await ctx.outcomes.write(ref.seq, ref.target, { kind: "failed", attempts, reason, error, at, src });
        const dead = {
          seq: ref.seq,
          eventId: ref.eventId,
          type: ref.type,
          target: ref.target,
          attempts,
          reason,
          error,
          at,
        };
        await res.dead.put(deadKey(ref.seq, ref.target), JSON.stringify(dead));
        h?.msg.term();
      }
    },
    watch(w) {
      wakers.add(w);
      // Arrivals are the wake-ups, so the fetch loops run from now on (one that fails to start is
      // started again by the next take).
      for (const target of closed ? [] : ctx.targets) {
        startTarget(target).catch(() => started.delete(target));
      }
      return () => wakers.delete(w);
    },
    async close() {
      closed = true;
      clearInterval(heartbeat);
      const left = await Promise.all([...pullers.values()].map((p) => p.puller.stop()));
      // Never handed out: give them back now rather than after the lease.
      for (const list of left) for (const m of list) m.nak();
      pullers.clear();
      wakers.clear();
    },
  };
}

/** The dead-letter bucket's key of one delivery. */
export function deadKey(seq: number, target: string): string {
  return `${seq}.${encodeToken(target)}`;
}
