import type { CloudEvent } from "../events/index.ts";
import type { RecordSealer } from "./event-log.ts";
import { errorRecordOf, eventRecordOf, type RawStoredEvent } from "./store.ts";

/**
 * Seals and opens what a backend stores, bound to its record (`eventRecordOf`, `errorRecordOf`).
 * Logs written before the storage seam bound bodies to an older record string (source and id only,
 * see `legacyRecordOf`): those still open, and count as stale so `reencrypt` binds them anew. An
 * opened body is an event envelope only if its id, source, principal and type are the ones the
 * backend holds in the clear (what dedupe and routing went by).
 */
export interface RecordOpener {
  sealEvent(event: CloudEvent, json: string): string;
  /** The envelope of a stored event; throws with why it is not one (does not open, not its own). */
  openEvent(record: RawStoredEvent): CloudEvent;
  sealError(error: string, seq: number, target: string): string;
  openError(sealed: string, seq: number, target: string): string;
  /** Whether a stored text must be sealed anew: an older key version, or the older binding. */
  isStale(sealed: string, record: string): boolean;
  /** `sealed` sealed anew (active key, current binding); undefined when it does not open. */
  reseal(sealed: string, record: string): string | undefined;
  versionOf(sealed: string): number;
}

export function createRecordOpener(sealer: RecordSealer | undefined): RecordOpener {
  // Opens with the current binding, else the older one; throws the current binding's error.
  const open = (sealed: string, record: string): string => {
    if (sealer === undefined) return sealed;
    try {
      return sealer.open(sealed, record);
    } catch (err) {
      const legacy = legacyRecordOf(record);
      if (legacy === undefined) throw err;
      try {
        return sealer.open(sealed, legacy);
      } catch {
        throw err;
      }
    }
  };
  return {
    sealEvent: (event, json) => (sealer === undefined ? json : sealer.seal(json, eventRecordOf(event))),
    openEvent(record) {
      let text: string;
      try {
        text = open(record.body, eventRecordOf(record));
      } catch {
        throw new Error(
          "its sealed body does not open (it was changed, belongs to another event, or its key is gone)",
        );
      }
      const event: unknown = JSON.parse(text);
      if (!isEnvelope(event)) throw new Error("it is not a CloudEvents envelope");
      if (event.id !== record.id || event.source !== record.source)
        throw new Error("its body belongs to another event");
      // Two principals' events may share source and id; the body must be the one its origin sent.
      // (Rows from before dedupe was scoped to the origin may not name one: "".)
      if (record.principal !== "" && event.principal !== record.principal)
        throw new Error("its body belongs to another principal's event");
      if (event.type !== record.type) throw new Error("its body belongs to an event of another type");
      return event;
    },
    sealError: (error, seq, target) =>
      sealer === undefined ? error : sealer.seal(error, errorRecordOf(seq, target)),
    openError: (sealed, seq, target) => open(sealed, errorRecordOf(seq, target)),
    isStale(sealed, record) {
      if (sealer === undefined) return false;
      if (sealer.versionOf(sealed) !== sealer.activeVersion()) return true;
      try {
        sealer.open(sealed, record);
        return false;
      } catch {
        return true; // bound to the older record string (or does not open at all: reseal leaves it)
      }
    },
    reseal(sealed, record) {
      if (sealer === undefined) return undefined;
      let plain: string;
      try {
        plain = open(sealed, record);
      } catch {
        return undefined; // a record that does not open stays as it is (refused as corrupt when read)
      }
      return sealer.seal(plain, record);
    },
    versionOf: (sealed) => sealer?.versionOf(sealed) ?? 0,
  };
}

/**
 * The record string bodies and errors were bound to before the storage seam (`event:<source>\0<id>`,
 * `delivery-error:<seq>\0<target>`), from the current one; undefined when it cannot be told (a
 * source or id with a line break in it).
 */
export function legacyRecordOf(record: string): string | undefined {
  const parts = record.split("\n");
  if (parts[0] === "event") return parts.length === 5 ? `event:${parts[2]}\0${parts[3]}` : undefined;
  if (parts[0] === "error" && parts.length >= 3)
    return `delivery-error:${parts[1]}\0${parts.slice(2).join("\n")}`;
  return undefined;
}

function isEnvelope(v: unknown): v is CloudEvent {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return typeof e.id === "string" && typeof e.type === "string" && typeof e.source === "string";
}
