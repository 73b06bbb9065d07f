import { LRUCache } from "lru-cache";
import type { CredentialStuffingPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";

/** Client addresses followed at once; the least recently seen is forgotten past it (memory bound). */
const ADDRESSES = 10_000;
/** Accepted requests are counted in this many buckets per window (a sliding window, bounded). */
const BUCKETS = 10;
/** How many distinct principals, routes and codes a finding's evidence lists. */
const EVIDENCE_ITEMS = 10;
/**
 * A shared address (a NAT, a proxy) with someone guessing behind it: SHARED_FACTOR times the policy's
 * failures, at a ratio down to SHARED_RATIO of the policy's (others behind it succeed meanwhile). It
 * is only reported, never blocked: a block would refuse everyone else behind it. A busy client with
 * a few percent of failures (a batch job, a key being rotated) stays under the ratio.
 */
const SHARED_FACTOR = 3;
const SHARED_RATIO = 0.5;

interface AddressState {
  /** Times of the latest failures (at most `failures` of them). */
  failedAt: number[];
  principals: Set<string>;
  routes: Set<string>;
  codes: Set<string>;
  /** Accepted requests per bucket: [bucket index, count]. */
  accepted: [number, number][];
  /** No new finding for this address before this time (it is blocked, or was just reported). */
  quietUntil: number;
}

export interface CredentialStuffing {
  rejected(rejection: SignalOf<"ingress.rejected">, now?: number): void;
  accepted(accepted: SignalOf<"ingress.accepted">, now?: number): void;
}

/**
 * Detector 4, credential stuffing: per client address, requests refused for their credentials or
 * grants (401, 403) against those accepted, in a sliding window. `failures` refusals making up at
 * least `ratio` of the address's requests is a finding about that address only: the principals it
 * tried are not touched (a sender cannot lock a principal out by failing as it), and an address
 * that mostly succeeds is not blocked for a few failures (many failures from one, SHARED_FACTOR
 * times the policy's, are reported but not blocked). Other refusals (bad JSON, rate limits, the
 * block itself) do not count. Memory is bounded by ADDRESSES.
 */
export function createCredentialStuffing(
  policy: CredentialStuffingPolicy,
  report: (finding: Finding) => void,
): CredentialStuffing {
  const addresses = new LRUCache<string, AddressState>({ max: ADDRESSES });
  const windowMs = policy.windowSec * 1000;
  const bucketMs = Math.max(1, Math.ceil(windowMs / BUCKETS));
  const stateOf = (ip: string): AddressState => {
    let s = addresses.get(ip);
    if (s === undefined) {
      s = {
        failedAt: [],
        principals: new Set(),
        routes: new Set(),
        codes: new Set(),
        accepted: [],
        quietUntil: 0,
      };
      addresses.set(ip, s);
    }
    return s;
  };
  const acceptedIn = (s: AddressState, now: number): number => {
    const oldest = Math.floor((now - windowMs) / bucketMs);
    s.accepted = s.accepted.filter(([b]) => b > oldest);
    return s.accepted.reduce((sum, [, n]) => sum + n, 0);
  };
  return {
    accepted(a, now = Date.now()) {
      if (policy.response === "off") return;
      const s = stateOf(a.ip);
      const bucket = Math.floor(now / bucketMs);
      const last = s.accepted.at(-1);
      if (last !== undefined && last[0] === bucket) last[1] += 1;
      else s.accepted.push([bucket, 1]);
      acceptedIn(s, now);
    },
    rejected(r, now = Date.now()) {
      if (policy.response === "off" || (r.status !== 401 && r.status !== 403)) return;
      const s = stateOf(r.ip);
      s.failedAt.push(now);
      while (
        s.failedAt.length > policy.failures * SHARED_FACTOR ||
        (s.failedAt[0] !== undefined && now - s.failedAt[0] > windowMs)
      )
        s.failedAt.shift();
      if (r.principal !== undefined && s.principals.size < EVIDENCE_ITEMS) s.principals.add(r.principal);
      if (r.route !== undefined && s.routes.size < EVIDENCE_ITEMS) s.routes.add(r.route);
      if (s.codes.size < EVIDENCE_ITEMS) s.codes.add(r.code);
      if (now < s.quietUntil || s.failedAt.length < policy.failures) return;
      const failed = s.failedAt.length;
      const accepted = acceptedIn(s, now);
      const ratio = failed / (failed + accepted);
      const shared = ratio < policy.ratio;
      if (shared && (failed < policy.failures * SHARED_FACTOR || ratio < policy.ratio * SHARED_RATIO)) return;
      const block = policy.response === "block" && !shared;
      s.quietUntil = now + Math.max(windowMs, block ? policy.blockSec * 1000 : 0);
      report({
        detector: "credential-stuffing",
        scope: { kind: "address", name: r.ip },
        severity: shared ? "medium" : "high",
        summary: shared
          ? `Address ${r.ip} failed authentication or authorization ${failed} times within ${policy.windowSec} s, though most of its requests succeed (${accepted} accepted): a shared address (NAT, proxy) with someone guessing behind it, or a broken client; not blocked, to spare the others behind it`
          : `Address ${r.ip} failed authentication or authorization ${failed} times within ${policy.windowSec} s (${accepted} accepted; policy: ${policy.failures} at ${policy.ratio} of its requests)`,
        evidence: {
          failures: failed,
          accepted,
          windowSec: policy.windowSec,
          codes: [...s.codes],
          routes: [...s.routes],
          principals: [...s.principals],
          ...(block ? { blockSec: policy.blockSec } : {}),
          ...(shared ? { shared: true } : {}),
        },
        response: block ? "block" : "alert",
        at: now,
      });
      s.failedAt = [];
      s.codes.clear();
      s.routes.clear();
      s.principals.clear();
    },
  };
}
