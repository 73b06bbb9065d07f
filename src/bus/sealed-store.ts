/**
 * Encryption at rest, around any backend: every event envelope is sealed before the backend sees it
 * (bound to the event's clear fields), every delivery error too, and everything read back is opened
 * here. A body that does not open, or that is not the event its clear fields name, is never handed
 * out as an event: `take` refuses it as `corrupt`, `read`/`find` leave it out. The subscription check
 * lives here too: stored routing is not trusted, so a delivery runs only if its target subscribes to
 * the event's (opened, authenticated) type now and its content filter matches.
 */
import { type CloudEvent, matchesTypePattern } from "../events/index.ts";
import type { Delivery, DeliveryRef, RecordSealer, RefusedDelivery, StoredEvent } from "./event-log.ts";
import { createRecentEvents } from "./recent-events.ts";
import { createRecordOpener } from "./record-opener.ts";
import type { RawDelivery, RawStore, RawStoredEvent, Store, Subscription } from "./store.ts";

/** Whether `target`'s content filter accepts a stored event; what a backend routes by content with. */
export type Accepts = (target: string, record: RawStoredEvent) => boolean;

/** The wrapper before its backend is open: its `accepts` goes into the backend's options. */
export interface Sealing {
  readonly accepts: Accepts;
  /** The backend, sealed: what the app uses. */
  wrap(raw: RawStore): Store;
}

/**
 * Creates the encryption wrapper for one store: `sealer` undefined stores plain JSON (the benchmark
 * and tests that need no keys); `subscriptions` are the targets whose deliveries may run.
 */
export function createSealing(
  sealer: RecordSealer | undefined,
  subscriptions: readonly Subscription[],
): Sealing {
  const opener = createRecordOpener(sealer);
  const subs = new Map(subscriptions.map((s) => [s.name, s]));
  const recent = createRecentEvents();
  // Envelopes being appended, by their sealed body: a backend routing inside its append asks
  // `accepts` about them before they are committed (and before they may be cached by position).
  const appending = new Map<string, CloudEvent>();

  const tryOpen = (record: RawStoredEvent): { event: CloudEvent } | { error: string } => {
    try {
      const cached = recent.get(record.seq);
      // The cache holds what this process wrote at that position; it still must be that event.
      if (cached !== undefined && cached.id === record.id && cached.source === record.source)
        return { event: cached };
      return { event: opener.openEvent(record) };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { error: `Cannot read event "${record.id}" (seq ${record.seq}): ${why}` };
    }
  };

  const accepts: Accepts = (target, record) => {
    const filter = subs.get(target)?.filter;
    if (filter === undefined) return true;
    const found = appending.get(record.body) ?? recent.get(record.seq);
    const opened = found === undefined ? tryOpen(record) : { event: found };
    // A record that does not open cannot be filtered: it is routed, and refused as corrupt at take.
    if (!("event" in opened)) return true;
    try {
      return filter(opened.event);
    } catch {
      return true;
    }
  };

  // A record sealed by another node with a data key version this one has not seen yet: the shared
  // key ring is re-read once before anything in the batch is opened (and maybe refused).
  const catchUp = async <T>(records: T[], body: (r: T) => string): Promise<T[]> => {
    const { knows, refresh } = sealer ?? {};
    if (sealer === undefined || knows === undefined || refresh === undefined) return records;
    const unknown = records.some((r) => {
      const version = sealer.versionOf(body(r));
      return version > 0 && !knows.call(sealer, version);
    });
    if (unknown) await refresh.call(sealer).catch(() => undefined);
    return records;
  };

  return {
    accepts,
    wrap(raw) {
      const openError = (text: string | null, seq: number, target: string): string | null => {
        if (text === null) return null;
        try {
          return opener.openError(text, seq, target);
        } catch (err) {
          return `(the stored error does not open: ${err instanceof Error ? err.message : String(err)})`;
        }
      };
      const opened = (records: RawStoredEvent[], skipped?: (seq: number, error: string) => void) =>
        records.flatMap((r): StoredEvent[] => {
          const o = tryOpen(r);
          if ("event" in o) return [{ seq: r.seq, event: o.event, acceptedAt: r.acceptedAt }];
          skipped?.(r.seq, o.error);
          return [];
        });

      // Refused, settled as skipped (dropped), or the delivery to run.
      const check = (d: RawDelivery): Delivery | RefusedDelivery | undefined => {
        const ref = { seq: d.seq, target: d.target, attempts: d.attempts };
        const refuse = (reason: RefusedDelivery["refused"]["reason"], error: string): RefusedDelivery => ({
          ...ref,
          eventId: d.record.id,
          type: d.record.type,
          refused: { reason, error },
        });
        if (d.refused !== undefined) return refuse(d.refused.reason, d.refused.error);
        const o = tryOpen(d.record);
        if (!("event" in o)) return refuse("corrupt", o.error);
        const { event } = o;
        const sub = subs.get(d.target);
        if (sub === undefined || !sub.on.some((pattern) => matchesTypePattern(pattern, event.type)))
          return refuse(
            "not-subscribed",
            `Cannot deliver event "${event.id}": function "${d.target}" does not subscribe to "${event.type}"`,
          );
        if (sub.filter !== undefined && !sub.filter(event)) {
          // A backend that routed by content did not send this: its routing was changed.
          if (raw.routesByContent)
            return refuse(
              "not-subscribed",
              `Cannot deliver event "${event.id}": function "${d.target}"'s filter does not match it`,
            );
          return undefined;
        }
        return { ...ref, event, ...(d.replay === undefined ? {} : { replay: d.replay }) };
      };

      const skip = (d: RawDelivery) =>
        raw.settle(
          { seq: d.seq, target: d.target, attempts: d.attempts, eventId: d.record.id, type: d.record.type },
          { kind: "skipped" },
        );

      return {
        durability: raw.durability,
        state: raw.state,
        events: {
          async append(events) {
            const sealed = events.map((event) => {
              const json = JSON.stringify(event);
              const body = opener.sealEvent(event, json);
              return { event, json, body };
            });
            for (const s of sealed) appending.set(s.body, s.event);
            try {
              const appended = await raw.append(
                sealed.map(({ event, body }) => ({
                  id: event.id,
                  source: event.source,
                  principal: event.principal,
                  type: event.type,
                  body,
                })),
              );
              // Cached only once stored: a failed append's positions may go to other events.
              appended.forEach((a, i) => {
                const s = sealed[i];
                if (!a.duplicate && s !== undefined) recent.remember(a.seq, s.event, s.json.length);
              });
              return appended;
            } finally {
              for (const s of sealed) appending.delete(s.body);
            }
          },
          read: async (after, limit, skipped) =>
            opened(await catchUp(await raw.read(after, limit), (r) => r.body), skipped),
          find: async (eventId) => opened(await catchUp(await raw.find(eventId), (r) => r.body)),
          latest: () => raw.latest(),
          earliest: () => raw.earliest(),
        },
        queue: {
          ...(raw.shortTakeHolds === true ? { shortTakeHolds: true } : {}),
          async take(target, limit) {
            const out: (Delivery | RefusedDelivery)[] = [];
            // What the content filter does not want is skipped and more taken in its place: a
            // short answer means nothing else is due (see DeliveryQueue.take).
            for (;;) {
              const want = limit - out.length;
              const taken = await raw.take(target, want);
              for (const d of await catchUp(taken, (r) => r.record.body)) {
                const checked = check(d);
                if (checked !== undefined) out.push(checked);
                else await skip(d);
              }
              if (taken.length < want || out.length >= limit) return out;
            }
          },
          settle(delivery: DeliveryRef, outcome) {
            if (outcome.kind === "delivered") return raw.settle(delivery, outcome);
            const error = opener.sealError(outcome.error, delivery.seq, delivery.target);
            return raw.settle(delivery, { ...outcome, error });
          },
          giveBack: (delivery) => raw.giveBack(delivery),
          nextDue: () => raw.nextDue(),
          watch: (wake) => raw.watch(wake),
          deadLetters: async (limit) =>
            (await raw.deadLetters(limit)).map((d) => ({
              ...d,
              error: openError(d.error, d.seq, d.target) ?? "",
            })),
          replay: (seq, target, replay, refused) =>
            raw.replay(
              seq,
              target,
              replay,
              refused === undefined ? undefined : opener.sealError(refused, seq, target),
            ),
          requeue: (seq, target) => raw.requeue(seq, target),
          deliveries: async (eventId) =>
            (await raw.deliveries(eventId)).map(({ seq, ...d }) => ({
              ...d,
              lastError: openError(d.lastError, seq, d.target),
            })),
          history: async (eventId) =>
            (await raw.history(eventId)).map(({ seq, ...h }) => ({
              ...h,
              lastError: openError(h.lastError, seq, h.target),
            })),
        },
        maintenance: {
          prune: (beforeMs) => raw.prune(beforeMs),
          reencrypt: (limit) =>
            sealer === undefined ? Promise.resolve(0) : raw.reseal(limit, opener.isStale, opener.reseal),
          sealedVersions: () => raw.countVersions(opener.versionOf),
          stateCounts: () => raw.stateCounts(),
        },
        close: () => raw.close(),
      };
    },
  };
}
