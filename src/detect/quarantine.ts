import type { SharedState } from "../bus/index.ts";
import type { Finding } from "../signals/index.ts";

/**
 * Quarantine: which functions are held now. The state is the deployment's shared state (a named
 * value per function: when it was quarantined, 0 when not), so every dispatcher of the deployment
 * and the operator's `palisade quarantine` commands see one answer, on the embedded log and on
 * NATS alike. The dispatcher asks `held` on every round (from memory); `refresh` re-reads the store
 * to pick up what another process changed (a release from the CLI, a hold by another node).
 */
export interface Quarantine {
  /** Whether `fn` is quarantined now, as this process last saw it. */
  held(fn: string): boolean;
  /** When `fn` was quarantined (epoch ms), if it is. */
  since(fn: string): number | undefined;
  /** Quarantines `fn` from `at` on: held at once here, durably for everyone once this resolves. */
  impose(fn: string, at: number): Promise<void>;
  /** Lifts `fn`'s quarantine; false when it was not quarantined. */
  lift(fn: string): Promise<boolean>;
  /** Re-reads every function's state; resolves to the functions whose state changed. */
  refresh(): Promise<{ lifted: string[]; imposed: string[] }>;
  /** Every quarantined function with its time, oldest first. */
  list(): { fn: string; since: number }[];
}

/** What a quarantine holds: functions (their deliveries) or principals (their chains and requests). */
export type QuarantineKind = "function" | "principal";

/** Name of a function's (or a principal's) quarantine value in shared state. */
export function quarantineKey(fn: string, kind: QuarantineKind = "function"): string {
  return `quarantine:${kind}:${fn}`;
}

/**
 * Id of the `palisade.security.anomaly` event that carries a finding: derived from the scope and
 * the time, so the finding behind a quarantine is found again from the quarantine's time alone.
 */
export function findingEventId(finding: Pick<Finding, "scope" | "at">): string {
  return `finding:${finding.scope.kind}:${finding.scope.name}:${finding.at}`;
}

/**
 * Reads the quarantine state of `functions` (the app's) from `state`; with `kind` principal, of the
 * app's principals instead (an operator's hold on a sender).
 */
export async function openQuarantine(
  state: SharedState,
  functions: readonly string[],
  kind: QuarantineKind = "function",
): Promise<Quarantine> {
  const keyOf = (name: string) => quarantineKey(name, kind);
  const since = new Map<string, number>();
  // Each local change bumps its function's generation: a read that started before a change (or
  // while one was being written) is stale for that function and is not applied.
  const generation = new Map<string, number>();
  // Holds whose write failed: they hold here regardless of what the store says, and are written
  // again on the next refresh (the store never saw them, so reading it must not lift them).
  const unwritten = new Map<string, number>();
  const known = new Set(functions);
  const bump = (fn: string) => generation.set(fn, (generation.get(fn) ?? 0) + 1);

  const quarantine: Quarantine = {
    held: (fn) => since.has(fn),
    since: (fn) => since.get(fn),
    async impose(fn, at) {
      if (!known.has(fn)) throw new Error(`No ${kind} named "${fn}"`);
      since.set(fn, at);
      bump(fn);
      try {
        await state.setCursor(keyOf(fn), at);
        unwritten.delete(fn);
      } catch (err) {
        unwritten.set(fn, at);
        throw err;
      } finally {
        bump(fn);
      }
    },
    async lift(fn) {
      const was = (await state.cursor(keyOf(fn))) > 0 || since.has(fn);
      since.delete(fn);
      unwritten.delete(fn);
      bump(fn);
      try {
        if (was) await state.setCursor(keyOf(fn), 0);
      } finally {
        bump(fn);
      }
      return was;
    },
    async refresh() {
      for (const [fn, at] of unwritten) {
        await state.setCursor(keyOf(fn), at);
        unwritten.delete(fn);
      }
      // Read everything first, then apply: a failed read changes nothing.
      const read: [string, number, number][] = [];
      for (const fn of known) {
        const before = generation.get(fn) ?? 0;
        read.push([fn, await state.cursor(keyOf(fn)), before]);
      }
      const lifted: string[] = [];
      const imposed: string[] = [];
      for (const [fn, at, before] of read) {
        if ((generation.get(fn) ?? 0) !== before) continue;
        if (at > 0 && since.get(fn) !== at) {
          since.set(fn, at);
          imposed.push(fn);
        } else if (at <= 0 && since.has(fn)) {
          since.delete(fn);
          lifted.push(fn);
        }
      }
      return { lifted, imposed };
    },
    list: () => [...since].map(([fn, at]) => ({ fn, since: at })).sort((a, b) => a.since - b.since),
  };
  await quarantine.refresh();
  return quarantine;
}
