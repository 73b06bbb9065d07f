import type { DeadLetterReason } from "../bus/index.ts";
import type { NoveltyPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";
import { scopeName } from "./capability-holds.ts";

/**
 * Distinct (capability, target) pairs kept per function and bundle version: the memory and file
 * bound. Targets are bounded by the grants already (a secret, kv namespace, event type or egress
 * destination the manifest names), so only a manifest with very many grants comes near it.
 */
export const MAX_PAIRS = 1000;

/**
 * Settled first attempts that never ran the function (bus `REFUSAL_REASONS`): they do not count as
 * invocations of the learning period.
 */
const NEVER_RAN: ReadonlySet<DeadLetterReason> = new Set(["corrupt", "unauthenticated", "not-subscribed"]);

/** What the detector keeps of one function: the baseline of its current bundle version. */
export interface NoveltyBaseline {
  /** The bundle version (its sha256) the baseline belongs to. */
  readonly version: string;
  /** When this version was first seen here (epoch ms): the learning period's hours run from then. */
  readonly since: number;
  /** Invocations counted while learning. */
  readonly invocations: number;
  /** When learning ended (epoch ms); absent while learning. */
  readonly learnedAt?: number;
  /** Pairs in the baseline when learning ended. */
  readonly learned?: number;
  /** Pairs used, as `capability:target` (learned, then each new one reported). */
  readonly pairs: readonly string[];
  /** A new pair was reported after the baseline was full: later ones cannot be told from seen ones. */
  readonly full: boolean;
}

export interface NoveltyParts {
  /** The current bundle version of a function; undefined for one that does not run here. */
  bundleVersion: (fn: string) => string | undefined;
  report: (finding: Finding) => void;
  /** Hears that a function's learning period ended. */
  learned?: (fn: string, baseline: NoveltyBaseline) => void;
  /** Hears that a baseline changed (to persist it, off the hot path). */
  changed?: () => void;
  /** Baselines kept from before (a restart); one of another bundle version is dropped. */
  saved?: ReadonlyMap<string, NoveltyBaseline>;
}

export interface Novelty {
  /** Learns a granted capability use, or reports it when it is new after learning. */
  used(use: SignalOf<"capability.used">, now?: number): void;
  /**
   * Asked before a granted call is made: with response `hold`, false for a pair that is new after
   * learning. That is the finding (scope `capability`, response `hold`), and the pair joins the
   * baseline, so once an operator releases the hold the call runs. True otherwise.
   */
  admit(use: NoveltyUse, now?: number): boolean;
  /** Counts a first attempt of the function's current bundle version towards its learning period. */
  invoked(settled: SignalOf<"invocation.settled">, now?: number): void;
  /** Every function's baseline now, to persist. */
  baselines(): Map<string, NoveltyBaseline>;
}

/** A granted call: what `used` and `admit` look at. */
export type NoveltyUse = Pick<SignalOf<"capability.used">, "fn" | "capability" | "target" | "eventId">;

interface State {
  version: string;
  since: number;
  invocations: number;
  learnedAt: number | undefined;
  learned: number;
  pairs: Set<string>;
  full: boolean;
  /** Time of the last finding: findings of one function get distinct times (their event ids). */
  lastAt: number;
}

/**
 * Detector 2, capability-target novelty: each bundle version of a function learns the (capability,
 * target) pairs it uses during its first `learn.invocations` invocations or `learn.hours` hours,
 * whichever ends first; afterwards the first use of a pair it did not learn (a new egress host,
 * secret, kv namespace or emitted type) is one finding, and the pair joins the baseline (reported
 * once per pair and version). A new bundle version learns again. Only granted calls count: a
 * sender's data can pick a target only where the function's code lets it, so the default response
 * is `alert`. Memory is bounded: one baseline per function of the app, MAX_PAIRS pairs each.
 */
export function createNovelty(policy: NoveltyPolicy, parts: NoveltyParts): Novelty {
  const states = new Map<string, State>();
  const hoursMs = policy.learn.hours * 3_600_000;
  const changed = () => parts.changed?.();
  for (const [fn, b] of parts.saved ?? []) {
    if (b.version !== parts.bundleVersion(fn)) continue; // a new version learns again
    states.set(fn, {
      version: b.version,
      since: b.since,
      invocations: b.invocations,
      learnedAt: b.learnedAt,
      learned: b.learned ?? 0,
      pairs: new Set(b.pairs.slice(0, MAX_PAIRS)),
      full: b.full,
      lastAt: 0,
    });
  }

  /** The state of `fn`'s current version: a new one starts learning now. */
  const stateOf = (fn: string, now: number): State | undefined => {
    const version = parts.bundleVersion(fn);
    if (version === undefined) return undefined;
    let s = states.get(fn);
    if (s?.version !== version) {
      s = {
        version,
        since: now,
        invocations: 0,
        learnedAt: undefined,
        learned: 0,
        pairs: new Set(),
        full: false,
        lastAt: 0,
      };
      states.set(fn, s);
      changed();
    }
    return s;
  };
  const endLearning = (fn: string, s: State, at: number): void => {
    s.learnedAt = at;
    s.learned = s.pairs.size;
    changed();
    parts.learned?.(fn, snapshot(s));
  };
  /** Whether `s` still learns at `now`; ends its learning when its hours are over. */
  const learning = (fn: string, s: State, now: number): boolean => {
    if (s.learnedAt !== undefined) return false;
    if (now < s.since + hoursMs) return true;
    endLearning(fn, s, s.since + hoursMs);
    return false;
  };

  /** Learns or reports one use; true when it was reported (new after learning). */
  const observe = (use: NoveltyUse, now: number): boolean => {
    const s = stateOf(use.fn, now);
    const pair = `${use.capability}:${use.target}`;
    if (s === undefined || s.pairs.has(pair)) return false;
    const isLearning = learning(use.fn, s, now);
    if (s.pairs.size < MAX_PAIRS) {
      s.pairs.add(pair);
      changed();
    } else {
      // Full: a pair past the cap cannot be remembered, so only the first one is reported.
      if (isLearning || s.full) return false;
      s.full = true;
      changed();
    }
    if (isLearning) return false;
    // Findings of one function never share a time: the time is part of the event's id.
    s.lastAt = Math.max(now, s.lastAt + 1);
    parts.report(novelFinding(policy, use, s));
    return true;
  };

  return {
    used(use, now = Date.now()) {
      if (policy.response !== "off") observe(use, now);
    },
    admit(use, now = Date.now()) {
      return policy.response !== "hold" || !observe(use, now);
    },
    invoked(settled, now = Date.now()) {
      if (policy.response === "off" || settled.attempt !== 1) return;
      if (settled.reason !== undefined && NEVER_RAN.has(settled.reason as DeadLetterReason)) return;
      const s = stateOf(settled.fn, now);
      if (s === undefined || !learning(settled.fn, s, now)) return;
      s.invocations += 1;
      changed();
      if (s.invocations >= policy.learn.invocations) endLearning(settled.fn, s, now);
    },
    baselines() {
      return new Map([...states].map(([fn, s]) => [fn, snapshot(s)]));
    },
  };
}

function snapshot(s: State): NoveltyBaseline {
  return {
    version: s.version,
    since: s.since,
    invocations: s.invocations,
    ...(s.learnedAt === undefined ? {} : { learnedAt: s.learnedAt, learned: s.learned }),
    pairs: [...s.pairs],
    full: s.full,
  };
}

function novelFinding(policy: NoveltyPolicy, use: NoveltyUse, s: State): Finding {
  const ended = new Date(s.learnedAt ?? s.since).toISOString();
  const capped = s.full
    ? `; its baseline holds ${MAX_PAIRS} pairs, so later new targets of this version are not reported`
    : "";
  return {
    detector: "novelty",
    // A hold is on the pair only: the rest of the function runs.
    scope:
      policy.response === "hold"
        ? { kind: "capability", name: scopeName(use.fn, use.capability, use.target) }
        : { kind: "function", name: use.fn },
    severity: "medium",
    summary: `Function "${use.fn}" used ${use.capability} "${use.target}" for the first time: bundle ${s.version.slice(0, 12)} did not use it in its learning period (${s.invocations} invocations until ${ended}, ${s.learned} capability targets learned)${capped}`,
    evidence: {
      capability: use.capability,
      target: use.target,
      eventId: use.eventId,
      bundleVersion: s.version,
      learnedPairs: s.learned,
      learningInvocations: s.invocations,
      learningEndedAt: ended,
      ...(s.full ? { baselineFull: true } : {}),
    },
    response: policy.response === "quarantine" || policy.response === "hold" ? policy.response : "alert",
    at: s.lastAt,
  };
}
