import { randomUUID } from "node:crypto";

// W3C Trace Context §3.2: version "00", 16-byte trace id, 8-byte parent id, flags; all-zero ids invalid.
const TRACEPARENT = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Returns a traceparent for a new hop: the same trace as `parent` if valid, a new trace otherwise. */
export function nextTraceparent(parent?: string): string {
  const match = parent === undefined ? null : TRACEPARENT.exec(parent);
  // randomUUID draws from Node's pooled CSPRNG buffer: far cheaper per event than randomBytes.
  const traceId = match?.[1] ?? randomUUID().replaceAll("-", "");
  const spanId = randomUUID().replaceAll("-", "").slice(16);
  return `00-${traceId}-${spanId}-01`;
}
