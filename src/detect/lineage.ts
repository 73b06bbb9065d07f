import { LRUCache } from "lru-cache";
import type { AmplificationPolicy } from "../manifest/index.ts";
import type { ChainEvent, Finding } from "../signals/index.ts";

/** Roots whose counts are kept at once (the least recently seen forgotten first). */
const MAX_ROOTS = 100_000;

export interface LineageParts {
  readonly policy: AmplificationPolicy;
  /** The most invocations plus emits one root of `type` may cause (the emit graph's worst case). */
  readonly budget: (type: string) => number;
  /** A function's `recursion.maxDepth`, if it declares one. */
  readonly maxDepth: (fn: string) => number | undefined;
  /**
   * How many functions an event of `type` at `hop` is routed to and may run for (a function's
   * recursion depth aside): the invocations one such event causes.
   */
  readonly subscribers: (type: string, hop: number) => number;
  readonly report: (finding: Finding) => void;
  readonly now?: () => number;
}

export interface Lineage {
  /**
   * What a delivery of `event` to `fn` may do now: `wait` while its root is held (a delivery deeper
   * than the function's recursion depth holds the root, with a finding), `discard` once an operator
   * discarded the root's held work, else `run`.
   */
  verdict(fn: string, event: ChainEvent): "run" | "wait" | "discard";
  /**
   * Counts a new emit (the emitted event) against its root's budget: the emit and the invocations
   * it causes (one per function it is routed to).
   */
  emitted(fn: string, event: ChainEvent): void;
  /** Holds a root from `at` on (read back from shared state at start, or held by another node). */
  hold(key: string, at: number): void;
  /** Lets a held root's work run; it is not held again (an operator judged the chain). */
  release(key: string): void;
  /** Dead-letters a held root's work from now on (an operator discarded it). */
  discard(key: string): void;
  /** Roots held now, oldest first. */
  held(): { root: string; since: number }[];
}

/** A root's name in findings, holds and `palisade quarantine`: `<principal>/<id>`. */
export function rootKey(event: ChainEvent): string {
  return `${event.rootprincipal ?? event.principal}/${event.rootid ?? event.id}`;
}

interface Root {
  count: number;
  budget: number;
  since?: number;
  released?: boolean;
  discarded?: boolean;
}

/**
 * Detector 1, lineage and amplification: every event carries its root (the event from outside it
 * descends from); the invocations and emits a root causes are counted against the emit graph's worst
 * case for the root's type (at most `maxPerRoot`), and a function on a cycle runs only for events at
 * most `recursion.maxDepth` hops from their root. Past either, the root is reported once and, with
 * response `hold`, its further work waits, pending, until an operator releases it. Only the chain's
 * own work counts: a sender's other events are other roots, so no one can hold someone else's chain.
 * Work is counted as it is caused: a new emit counts itself and one invocation per function it is
 * routed to (as the worst case counts them, filters aside), the root event its own subscribers; so a
 * retry, or an operator's replay of a delivery, is not more work of the chain. Counts are kept in
 * this process (a root first seen here mid-chain, after a restart or on another node, gets
 * `maxPerRoot`); memory is bounded by forgetting the least recently seen roots past MAX_ROOTS. A
 * root an operator or a finding decided on (held, released, reported, discarded) is kept apart and
 * never forgotten: those are as many as the findings.
 */
export function createLineage(parts: LineageParts): Lineage {
  const { policy } = parts;
  const now = parts.now ?? Date.now;
  // Counting roots (forgotten past MAX_ROOTS, in O(1)), and roots decided on (kept).
  const counting = new LRUCache<string, Root>({ max: MAX_ROOTS });
  const decided = new Map<string, Root>();
  const on = policy.response !== "off";

  function rootOf(event: ChainEvent): [string, Root] {
    const key = rootKey(event);
    let root = decided.get(key) ?? counting.get(key);
    if (root === undefined) {
      const budget = event.hop === 0 ? parts.budget(event.type) : policy.maxPerRoot;
      // The root's own invocations count from the start; a root first seen mid-chain (after a
      // restart, or on another node) counts from what reaches this process.
      const own = event.hop === 0 ? parts.subscribers(event.type, 0) : 0;
      root = { count: own, budget: Math.min(budget, policy.maxPerRoot) };
      counting.set(key, root);
    }
    return [key, root];
  }

  /** The root named `key`, kept from now on (it was decided on). */
  function decide(key: string): Root {
    const root = decided.get(key) ?? counting.get(key) ?? { count: 0, budget: policy.maxPerRoot };
    counting.delete(key);
    decided.set(key, root);
    return root;
  }

  function exceed(key: string, root: Root, summary: string, evidence: Record<string, unknown>): void {
    if (root.released === true || root.since !== undefined) return;
    decide(key);
    const at = now();
    if (policy.response === "hold") root.since = at;
    else root.released = true; // alert: reported once, never held
    parts.report({
      detector: "lineage",
      scope: { kind: "root", name: key },
      severity: "high",
      summary,
      evidence: { root: key, budget: root.budget, invocationsAndEmits: root.count, ...evidence },
      response: policy.response === "hold" ? "hold" : "alert",
      at,
    });
  }

  function count(fn: string, event: ChainEvent, what: string): void {
    if (!on) return;
    const [key, root] = rootOf(event);
    root.count += 1 + parts.subscribers(event.type, event.hop);
    if (root.count > root.budget)
      exceed(
        key,
        root,
        `The chain of ${key} caused more than ${root.budget} invocations and emits (its worst case by the emit graph, at most detect.amplification.maxPerRoot): the last was ${what} by "${fn}"; its deliveries are the excess`,
        { function: fn, eventId: event.id, hop: event.hop },
      );
  }

  return {
    verdict(fn, event) {
      if (!on) return "run";
      const [key, root] = rootOf(event);
      if (root.discarded === true) return "discard";
      if (root.since !== undefined) return "wait";
      const depth = parts.maxDepth(fn);
      if (depth !== undefined && event.hop > depth && root.released !== true)
        exceed(
          key,
          root,
          `Function "${fn}" was to run ${event.hop} hops from the root ${key}, deeper than its recursion.maxDepth (${depth})`,
          { function: fn, eventId: event.id, hop: event.hop, maxDepth: depth },
        );
      return root.since === undefined ? "run" : "wait";
    },
    emitted(fn, event) {
      count(fn, event, `an emit of ${event.type}`);
    },
    hold(key, at) {
      const root = decide(key);
      if (root.released !== true) root.since = at;
    },
    release(key) {
      const root = decide(key);
      delete root.since;
      root.released = true;
    },
    discard(key) {
      decide(key).discarded = true;
    },
    held: () =>
      [...decided]
        .flatMap(([key, r]) => (r.since === undefined ? [] : [{ root: key, since: r.since }]))
        .sort((a, b) => a.since - b.since),
  };
}
