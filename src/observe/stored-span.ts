/**
 * What the recent-traces stores keep of a finished span, and which spans they take: both the app's
 * `.palisade/traces.db` and, on NATS, the deployment's traces stream store the same selection.
 */
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { LRUCache } from "lru-cache";

/** New traces taken each second: every trace at development rates, a cheap sample under load. */
export const TRACES_PER_SECOND = 200;
const ADMITTED = 10_000;

export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentId: string | null;
  name: string;
  /** Start, epoch ms. */
  start: number;
  durationMs: number;
  error: string | null;
  attributes: Record<string, unknown>;
  /** The process that recorded it (`<role> <host> <pid>`), for spans read from NATS. */
  node?: string;
}

/**
 * Whether `v` (read from a shared store, where anyone with publish rights could have put it) is a
 * stored span of `traceId` with every field of its type: anything else is skipped by the reader, so
 * the span tree never fails on it.
 */
export function isStoredSpanOf(v: unknown, traceId: string): v is StoredSpan {
  const s = v as Partial<Record<keyof StoredSpan, unknown>> | null;
  return (
    typeof s === "object" &&
    s !== null &&
    s.traceId === traceId &&
    typeof s.spanId === "string" &&
    (s.parentId === null || typeof s.parentId === "string") &&
    typeof s.name === "string" &&
    Number.isFinite(s.start) &&
    Number.isFinite(s.durationMs) &&
    (s.error === null || typeof s.error === "string") &&
    typeof s.attributes === "object" &&
    s.attributes !== null &&
    !Array.isArray(s.attributes)
  );
}

/** The stored form of a finished span: names, ids, timings, status and attributes, never payloads. */
export function toStoredSpan(s: ReadableSpan): StoredSpan {
  const sc = s.spanContext();
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentId: s.parentSpanContext?.spanId ?? null,
    name: s.name,
    start: s.startTime[0] * 1000 + s.startTime[1] / 1e6,
    durationMs: s.duration[0] * 1000 + s.duration[1] / 1e6,
    error: s.status.code === 2 ? (s.status.message ?? "error") : null,
    attributes: { ...s.attributes },
  };
}

/**
 * Decides per trace id whether a store takes it: the first span seen decides, whole traces or none,
 * at most TRACES_PER_SECOND new traces each second.
 */
export function createTraceAdmission(): (traceId: string) => boolean {
  // Bounded, and evicting in O(1) (a Set's first entry sits behind every entry deleted since its
  // last rehash, and past the budget every new trace lands here).
  const admitted = new LRUCache<string, true>({ max: ADMITTED });
  const refused = new LRUCache<string, true>({ max: ADMITTED });
  let second = 0;
  let budget = TRACES_PER_SECOND;
  const remember = (set: LRUCache<string, true>, id: string) => {
    set.set(id, true);
  };
  return (traceId) => {
    if (admitted.has(traceId)) return true;
    if (refused.has(traceId)) return false; // a trace is stored whole or not at all
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) {
      second = now;
      budget = TRACES_PER_SECOND;
    }
    if (budget === 0) {
      remember(refused, traceId);
      return false;
    }
    budget -= 1;
    remember(admitted, traceId);
    return true;
  };
}
