import type { SharedState } from "../bus/index.ts";

/** Names of root holds in shared state: `quarantine:root:<principal>/<id>`. */
export const ROOT_HOLD_PREFIX = "quarantine:root:";

/** The value of a root hold whose held work an operator discarded (the platform dead-letters it). */
export const ROOT_DISCARDED = -1;

/** What the shared state says of one root now. */
export type RootHoldState = { readonly held: number } | "released" | "discarded";

/**
 * Holds of chains (detector 1), in the deployment's shared state so that an operator's
 * `palisade quarantine release|discard root:<principal>/<id>` reaches every running node: the value
 * is when the root was held (epoch ms), 0 once released, ROOT_DISCARDED once discarded.
 */
export interface RootHolds {
  /** Records that `root` is held from `at` on. */
  impose(root: string, at: number): Promise<void>;
  /** What the state says of each of `roots` (those this process holds). */
  read(roots: readonly string[]): Promise<Map<string, RootHoldState>>;
  /** Every root held now (not released, not discarded), oldest first. */
  list(): Promise<{ root: string; since: number }[]>;
  /** Every root whose held work was discarded (its later work is dead-lettered too). */
  discarded(): Promise<string[]>;
  /** Releases a held root; false when it was not held. */
  release(root: string): Promise<boolean>;
  /** Marks a held root's work to be dead-lettered; false when it was not held. */
  discard(root: string): Promise<boolean>;
}

export function openRootHolds(state: SharedState): RootHolds {
  return openScopeHolds(state, ROOT_HOLD_PREFIX);
}

/**
 * Holds of named scopes under `prefix` in shared state (chains' roots, capability targets): the
 * value is when the scope was held (epoch ms), 0 once released, ROOT_DISCARDED once discarded.
 */
export function openScopeHolds(state: SharedState, prefix: string): RootHolds {
  const name = (root: string) => `${prefix}${root}`;
  const change = async (root: string, value: number): Promise<boolean> => {
    if ((await state.cursor(name(root))) <= 0) return false;
    await state.setCursor(name(root), value);
    return true;
  };
  return {
    impose: (root, at) => state.setCursor(name(root), at),
    async read(roots) {
      const found = new Map<string, RootHoldState>();
      for (const root of roots) {
        const value = await state.cursor(name(root));
        found.set(root, value > 0 ? { held: value } : value === ROOT_DISCARDED ? "discarded" : "released");
      }
      return found;
    },
    async list() {
      return (await state.list(prefix))
        .filter((v) => v.value > 0)
        .map((v) => ({ root: v.name.slice(prefix.length), since: v.value }))
        .sort((a, b) => a.since - b.since);
    },
    async discarded() {
      return (await state.list(prefix))
        .filter((v) => v.value === ROOT_DISCARDED)
        .map((v) => v.name.slice(prefix.length));
    },
    release: (root) => change(root, 0),
    discard: (root) => change(root, ROOT_DISCARDED),
  };
}
