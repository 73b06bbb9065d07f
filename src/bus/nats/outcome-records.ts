/**
 * Outcome records: one message per settle, replay, requeue or refusal on
 * `palisade.<app>.out.<seq>.<target>` (so one event's records are one subject filter away). The state
 * of a delivery is the fold of its records; the records a replay or requeue started over are its
 * history. Errors in them arrive sealed and are stored as given. With the platform's `mac`, each
 * record carries an authentication code and a record without a valid one is ignored, so a client
 * that may publish on the broker cannot mark someone's delivery as done.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { scanStream } from "../../jetstream-scan.ts";
import type { DeadLetterReason, DeliveryState, PastDelivery } from "../event-log.ts";
import { decodeToken, encodeToken, type NatsNames } from "./names.ts";

/** One record. `src` names the message that was settled: `e` the event itself, `r<n>` replay n. */
export type OutcomeRecord =
  | {
      readonly kind: "retry";
      readonly attempts: number;
      readonly error: string;
      readonly at: number;
      readonly src: string;
      /** JetStream's delivery count of the attempt (later redeliveries from give-backs are no attempts). */
      readonly deliveries?: number;
    }
  | { readonly kind: "delivered"; readonly attempts: number; readonly at: number; readonly src: string }
  | {
      readonly kind: "failed";
      readonly attempts: number;
      readonly reason: DeadLetterReason;
      readonly error: string;
      readonly at: number;
      readonly src: string;
    }
  | { readonly kind: "skipped"; readonly at: number; readonly src: string }
  /**
   * Given back unattempted (a held target's prefetched work): the message is nak'd, and its next
   * delivery carries `attempts`, not JetStream's count, which the give-back raised (`deliveries`:
   * the count when it was given back). The delivery's state does not change.
   */
  | {
      readonly kind: "returned";
      readonly attempts: number;
      readonly deliveries: number;
      readonly at: number;
      readonly src: string;
    }
  | { readonly kind: "replayed"; readonly at: number; readonly by: string }
  | { readonly kind: "requeued"; readonly at: number }
  | { readonly kind: "refused"; readonly at: number; readonly error: string; readonly by: string };

const MAC = "Pal-Mac";

/** Writes and reads one app's outcome records. */
export interface OutcomeLog {
  /** Appends a record once JetStream has it; `msgID` dedupes a repeated write. */
  write(seq: number, target: string, record: OutcomeRecord, msgID?: string): Promise<void>;
  /** The newest authentic record of one delivery. */
  last(seq: number, target: string): Promise<OutcomeRecord | undefined>;
  /** Every authentic record of one event, oldest first, with its target. */
  all(seq: number): Promise<{ target: string; record: OutcomeRecord }[]>;
}

/** The outcome log of `names`; `mac` signs and checks records when the platform has a key. */
export function createOutcomeLog(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: NatsNames,
  mac: ((text: string) => string) | undefined,
): OutcomeLog {
  const subject = (seq: number, target: string) => `${names.outcomes}.${seq}.${encodeToken(target)}`;
  const authentic = (subj: string, body: string, code: string | undefined): boolean =>
    mac === undefined || code === mac(`outcome\n${subj}\n${body}`);
  const parse = (subj: string, body: string, code: string | undefined): OutcomeRecord | undefined => {
    if (!authentic(subj, body, code)) return undefined;
    try {
      return JSON.parse(body) as OutcomeRecord;
    } catch {
      return undefined;
    }
  };
  return {
    async write(seq, target, record, msgID) {
      const subj = subject(seq, target);
      const body = JSON.stringify(record);
      const h = headers();
      if (mac !== undefined) h.set(MAC, mac(`outcome\n${subj}\n${body}`));
      await js.publish(subj, body, { headers: h, retries: 3, ...(msgID === undefined ? {} : { msgID }) });
    },
    async last(seq, target) {
      const subj = subject(seq, target);
      // A direct get: answered by the stream itself, not queued behind the JetStream API.
      const m = await jsm.direct.getMessage(names.outcomesStream, { last_by_subj: subj });
      if (m === null) return undefined;
      return parse(subj, m.string(), m.header.get(MAC) || undefined);
    },
    async all(seq) {
      const out: { target: string; record: OutcomeRecord }[] = [];
      const filter = `${names.outcomes}.${seq}.*`;
      for await (const m of scanStream(js, jsm, names.outcomesStream, { filter })) {
        const record = parse(m.subject, m.string(), m.headers?.get(MAC) || undefined);
        const token = m.subject.split(".").at(-1);
        if (record !== undefined && token !== undefined) out.push({ target: decodeToken(token), record });
      }
      return out;
    },
  };
}

interface Fold {
  state: DeliveryState["state"];
  attempts: number;
  lastError: string | null;
  reason: DeadLetterReason | null;
  at: number;
}

/**
 * Folds one event's records into each target's current state and the outcomes replays started
 * over. `routed` lists the targets the event was routed to (pending until a record says otherwise).
 */
export function foldOutcomes(
  routed: readonly string[],
  records: readonly { target: string; record: OutcomeRecord }[],
): { current: DeliveryState[]; past: PastDelivery[] } {
  const states = new Map<string, Fold | undefined>();
  for (const target of routed)
    states.set(target, { state: "pending", attempts: 0, lastError: null, reason: null, at: 0 });
  const past: PastDelivery[] = [];
  for (const { target, record: r } of records) {
    const s = states.get(target);
    if (r.kind === "replayed" || r.kind === "requeued" || r.kind === "refused") {
      if (s !== undefined && s.state !== "pending") past.push({ target, ...s, supersededAt: r.at });
      const lastError =
        r.kind === "requeued" ? (s?.lastError ?? null) : r.kind === "refused" ? r.error : null;
      const state = r.kind === "refused" ? "failed" : "pending";
      const reason = r.kind === "refused" ? "replay-refused" : null;
      states.set(target, { state, attempts: 0, lastError, reason, at: r.at });
    } else if (r.kind === "returned") continue;
    else if (r.kind === "skipped") states.set(target, undefined);
    else if (r.kind === "retry")
      states.set(target, {
        state: "pending",
        attempts: r.attempts,
        lastError: r.error,
        reason: null,
        at: r.at,
      });
    else if (r.kind === "delivered")
      states.set(target, {
        state: "delivered",
        attempts: r.attempts,
        lastError: null,
        reason: null,
        at: r.at,
      });
    else
      states.set(target, {
        state: "failed",
        attempts: r.attempts,
        lastError: r.error,
        reason: r.reason,
        at: r.at,
      });
  }
  const current: DeliveryState[] = [];
  for (const [target, s] of states)
    if (s !== undefined)
      current.push({ target, state: s.state, attempts: s.attempts, lastError: s.lastError });
  return { current: current.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)), past };
}
