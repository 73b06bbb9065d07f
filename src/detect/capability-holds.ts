/**
 * Holds of one capability target of one function, the narrowest scope below a function:
 * `<function>/<capability>:<target>`, e.g. `checkout/egress:https://uploads.example:443`. While a
 * scope is held, that function's calls to that target are not made: the call is refused, and so is
 * every later call of the same invocation, and the invocation's delivery goes back to the store
 * unattempted and waits, pending, until an operator releases the scope (it then runs again, once)
 * or discards the deliveries the hold keeps (dead-lettered with reason `quarantined`). The rest of
 * the function's work runs.
 *
 * Both live in the deployment's shared state, so every node and the CLI see them: the scope's value
 * (when it was held, 0 once released) under CAPABILITY_HOLD_PREFIX, and each waiting delivery's
 * value (the time of the hold it waits for, DISCARD_WAIT once an operator discarded it, 0 once it
 * ran) under CAPABILITY_WAIT_PREFIX.
 */
import type { SharedState, Verdict } from "../bus/index.ts";
import { egressDestination } from "../egress-destination.ts";
import type { CapabilityKind, ChainEvent } from "../signals/index.ts";
import { openScopeHolds, type RootHolds } from "./root-holds.ts";

export const CAPABILITY_HOLD_PREFIX = "quarantine:capability:";
export const CAPABILITY_WAIT_PREFIX = "quarantine:capability-wait:";
/** The value of a waiting delivery an operator discarded: the platform dead-letters it. */
export const DISCARD_WAIT = -1;

/** The capability kinds a hold can name (the capability host's). */
export const HOLDABLE_KINDS: readonly Exclude<CapabilityKind, "unknown">[] = [
  "emit",
  "secret",
  "egress",
  "kv-read",
  "kv-write",
];

/** The parts of a capability scope. */
export interface CapabilityTarget {
  readonly fn: string;
  readonly capability: Exclude<CapabilityKind, "unknown">;
  readonly target: string;
}

/**
 * The scope's name as an operator may write it: `<function>/<capability>:<target>`, an egress
 * target turned into the form the capability host names it in (`https://host:443`).
 */
export function capabilityScope(fn: string, capability: string, target: string): string {
  return scopeName(fn, capability, capability === "egress" ? egressDestination(target) : target);
}

/** The scope's name of a target the capability host named (already in its form). */
export function scopeName(fn: string, capability: string, target: string): string {
  return `${fn}/${capability}:${target}`;
}

/** The parts of a scope name, or undefined when it is not one. */
export function parseCapabilityScope(scope: string): CapabilityTarget | undefined {
  const m = /^([a-z][a-z0-9-]{0,62})\/([a-z-]+):(.+)$/s.exec(scope);
  const capability = HOLDABLE_KINDS.find((k) => k === m?.[2]);
  if (m === null || capability === undefined) return undefined;
  return { fn: m[1] as string, capability, target: m[3] as string };
}

/** One delivery that waits for a capability's hold. */
export interface CapabilityWait {
  readonly scope: string;
  readonly fn: string;
  /** The event's principal and id (a delivery is one function's copy of one event). */
  readonly principal: string;
  readonly id: string;
  /** The time of the hold it waits for; DISCARD_WAIT once an operator discarded it. */
  readonly since: number;
}

/** The held scopes and their waiting deliveries, in shared state. */
export interface CapabilityHoldStore extends RootHolds {
  /** Records `wait`, or (with value 0) that it ran, or (DISCARD_WAIT) that it is to be dead-lettered. */
  setWait(wait: CapabilityWait, value: number): Promise<void>;
  /** Every waiting or discarded delivery, of one scope when given. */
  waits(scope?: string): Promise<CapabilityWait[]>;
}

const waitName = (w: Pick<CapabilityWait, "scope" | "fn" | "principal" | "id">): string =>
  `${CAPABILITY_WAIT_PREFIX}${JSON.stringify([w.scope, w.fn, w.principal, w.id])}`;

export function openCapabilityHoldStore(state: SharedState): CapabilityHoldStore {
  return {
    ...openScopeHolds(state, CAPABILITY_HOLD_PREFIX),
    setWait: (wait, value) => state.setCursor(waitName(wait), value),
    async waits(scope) {
      // A scope's keys share the JSON array's opening: `["<scope>",`.
      const prefix =
        scope === undefined
          ? CAPABILITY_WAIT_PREFIX
          : `${CAPABILITY_WAIT_PREFIX}${JSON.stringify([scope]).slice(0, -1)},`;
      const found: CapabilityWait[] = [];
      for (const { name, value } of await state.list(prefix)) {
        const parts = parseWait(name.slice(CAPABILITY_WAIT_PREFIX.length));
        if (parts !== undefined) found.push({ ...parts, since: value });
      }
      return found;
    },
  };
}

function parseWait(text: string): Omit<CapabilityWait, "since"> | undefined {
  try {
    const parts: unknown = JSON.parse(text);
    if (!Array.isArray(parts) || parts.length !== 4 || !parts.every((p) => typeof p === "string"))
      return undefined;
    const [scope, fn, principal, id] = parts as [string, string, string, string];
    return { scope, fn, principal, id };
  } catch {
    return undefined; // not written by this module: ignored
  }
}

/** The running platform's view of capability holds: consulted on every call and every delivery. */
export interface CapabilityGate {
  /**
   * The hold in force on `fn`'s calls to (`capability`, `target`), if any; the delivery of `event`
   * is then recorded as waiting for it (here at once, in shared state soon after).
   */
  check(fn: string, capability: string, target: string, event: ChainEvent): string | undefined;
  /** Holds `scope` from `at` on: here at once, durably for every node once written. */
  impose(scope: string, at: number): void;
  /**
   * What a delivery may do now: wait while the hold it hit stands, discard once an operator said so
   * (answered once: the dispatcher then dead-letters it, and a replay of it later is new work).
   */
  verdict(fn: string, event: ChainEvent): Verdict;
  /** Scopes held now, as this process last saw them. */
  held(): string[];
  /**
   * Re-reads the scopes held here (and, with `all`, every held scope and waiting delivery of the
   * deployment). `changed` when a hold was lifted or a delivery discarded (the dispatcher should
   * look); `imposed`: scopes held elsewhere (another node, an operator) seen here for the first time.
   */
  refresh(all: boolean): Promise<{ changed: boolean; imposed: string[] }>;
}

/** Creates the gate over `store`; a write that fails is retried at the next refresh. */
export function createCapabilityGate(store: CapabilityHoldStore): CapabilityGate {
  const scopes = new Map<string, number>();
  const waits = new Map<string, CapabilityWait>();
  const unwritten = new Map<string, number>();
  const unwrittenWaits = new Map<string, [CapabilityWait, number]>();
  const keyOf = (fn: string, event: Pick<ChainEvent, "principal" | "id">) =>
    JSON.stringify([fn, event.principal, event.id]);
  const writeWait = (wait: CapabilityWait, value: number): void => {
    const key = waitName(wait);
    unwrittenWaits.set(key, [wait, value]);
    store.setWait(wait, value).then(
      () => {
        if (unwrittenWaits.get(key)?.[1] === value) unwrittenWaits.delete(key);
      },
      () => undefined, // written again at the next refresh
    );
  };

  return {
    check(fn, capability, target, event) {
      if (scopes.size === 0) return undefined; // every call asks: nothing to build while none is held
      const scope = scopeName(fn, capability, target);
      const since = scopes.get(scope);
      if (since === undefined) return undefined;
      const key = keyOf(fn, event);
      if (waits.get(key)?.since !== since) {
        const wait = { scope, fn, principal: event.principal, id: event.id, since };
        waits.set(key, wait);
        writeWait(wait, since);
      }
      return scope;
    },
    impose(scope, at) {
      scopes.set(scope, at);
      unwritten.set(scope, at);
      store.impose(scope, at).then(
        () => {
          if (unwritten.get(scope) === at) unwritten.delete(scope);
        },
        () => undefined,
      );
    },
    verdict(fn, event) {
      const key = keyOf(fn, event);
      const wait = waits.get(key);
      if (wait === undefined) return "run";
      if (wait.since !== DISCARD_WAIT && scopes.get(wait.scope) === wait.since) return "wait";
      // Discarded (the dispatcher dead-letters it; a dlq replay of it later runs) or its hold was
      // lifted (it runs): done waiting, here and in the store.
      waits.delete(key);
      writeWait(wait, 0);
      return wait.since === DISCARD_WAIT ? "discard" : "run";
    },
    held: () => [...scopes.keys()],
    async refresh(all) {
      for (const [scope, at] of unwritten) {
        await store.impose(scope, at);
        if (unwritten.get(scope) === at) unwritten.delete(scope);
      }
      for (const [key, [wait, value]] of unwrittenWaits) {
        await store.setWait(wait, value);
        if (unwrittenWaits.get(key)?.[1] === value) unwrittenWaits.delete(key);
      }
      let changed = false;
      const imposed: string[] = [];
      for (const [scope, now] of await store.read([...scopes.keys()])) {
        if (typeof now === "object") scopes.set(scope, now.held);
        else if (scopes.delete(scope)) changed = true;
      }
      if (!all) return { changed, imposed };
      for (const { root: scope, since } of await store.list()) {
        if (!scopes.has(scope)) imposed.push(scope);
        scopes.set(scope, since);
      }
      for (const wait of await store.waits()) {
        const key = keyOf(wait.fn, wait);
        const had = waits.get(key);
        if (had?.since === wait.since) continue;
        // A discard reaches here from the store; a wait recorded here outranks an older one there.
        if (wait.since === DISCARD_WAIT || had === undefined) {
          waits.set(key, wait);
          changed ||= wait.since === DISCARD_WAIT;
        }
      }
      return { changed, imposed };
    },
  };
}
