/**
 * What is held and why, for the CLI (`palisade quarantine list`) and the admin API alike: each
 * quarantined function, held principal and held chain (root), the finding behind it, and the
 * deliveries it holds; and lifting or imposing an operator's hold.
 */
import { AUDIT_KIND } from "../audit/index.ts";
import type { Delivery, RefusedDelivery, Store } from "../bus/index.ts";
import {
  type CapabilityHoldStore,
  capabilityScope,
  DISCARD_WAIT,
  findingEventId,
  HOLDABLE_KINDS,
  openCapabilityHoldStore,
  openQuarantine,
  openRootHolds,
  parseCapabilityScope,
  rootKey,
} from "../detect/index.ts";
import { createEvent, PLATFORM_PRINCIPAL, PLATFORM_SOURCE } from "../events/index.ts";
import type { AppModel } from "../manifest/index.ts";

/** Most held deliveries one read takes (a list's count stops there; `more` then says so). */
export const HELD_SCAN = 10_000;

/** The type of the event that carries a finding (an operator's hold is one too). */
const ANOMALY_TYPE = "palisade.security.anomaly";

/** One quarantined scope, as `palisade quarantine list --json` prints it and the admin API serves it. */
export interface QuarantineEntry {
  /**
   * A quarantined function, a held principal, a held chain (its root, `<principal>/<id>`), or a held
   * capability target of a function (`<function>/<capability>:<target>`).
   */
  scope: { kind: "function" | "principal" | "root" | "capability"; name: string };
  since: string;
  /** The finding's summary, or why it cannot be shown. */
  reason: string;
  /** The `palisade.security.anomaly` event's data (detector, severity, evidence, response), if found. */
  finding: Record<string, unknown> | null;
  findingId: string;
  /** null when not listed (see `heldNote`). */
  held: { count: number; more: boolean; eventIds: string[] } | null;
  /** Why `held` is null. */
  heldNote?: string;
}

/**
 * On NATS the workers keep a held function's deliveries leased (buffered, with heartbeats) while
 * they wait, so another process cannot read or settle them.
 */
export const NATS_HELD =
  "held deliveries are not listed on NATS: the workers keep them leased while the function is quarantined";
/** In the running platform a chain's or principal's held work is due work of running functions. */
const IN_PROCESS_HELD =
  "a chain's or principal's held deliveries are listed by palisade quarantine list (reading them here would take due work from the running dispatcher)";

export interface ListOptions {
  /** Event ids listed per scope. */
  readonly limit: number;
  /**
   * Read every function's due work to list what chains and principals hold (`dueByRoot`). Only
   * from outside the running platform: inside it, taking due work competes with its dispatcher.
   */
  readonly scanChains: boolean;
}

/** Every quarantined function, held principal and held chain, why, and what each holds. */
export async function listQuarantine(
  app: AppModel,
  store: Store,
  options: ListOptions,
): Promise<QuarantineEntry[]> {
  const quarantine = await openQuarantine(store.state, [...app.functions.keys()]);
  const principals = await openQuarantine(store.state, [...app.principals.keys()], "principal");
  const roots = await openRootHolds(store.state).list();
  const capabilityHolds = openCapabilityHoldStore(store.state);
  const capabilities = await capabilityHolds.list();
  const scopes = [
    ...quarantine.list().map(({ fn, since }) => ({ kind: "function" as const, name: fn, since })),
    ...principals.list().map(({ fn, since }) => ({ kind: "principal" as const, name: fn, since })),
    ...roots.map(({ root, since }) => ({ kind: "root" as const, name: root, since })),
    ...capabilities.map(({ root, since }) => ({ kind: "capability" as const, name: root, since })),
  ];
  const nats = onNats(store);
  // A chain's (or a principal's) held work is any function's due work of that root (or of roots
  // that principal sent): read once, grouped by both.
  const byRoot =
    scopes.every((sc) => sc.kind === "function" || sc.kind === "capability") || nats || !options.scanChains
      ? undefined
      : await dueByRoot(store, [...app.functions.keys()]);
  const entries: QuarantineEntry[] = [];
  try {
    for (const { kind, name, since } of scopes) {
      const findingId = findingEventId({ scope: { kind, name }, at: since });
      const [stored] = await store.events.find(findingId);
      const finding = (stored?.event.data as Record<string, unknown> | undefined) ?? null;
      // A capability hold's waiting deliveries are named in shared state: listed on every backend.
      const note =
        kind === "capability"
          ? undefined
          : nats
            ? NATS_HELD
            : kind !== "function" && byRoot === undefined
              ? IN_PROCESS_HELD
              : undefined;
      let held: QuarantineEntry["held"] = null;
      if (kind === "capability") {
        const waiting = await waitingFor(capabilityHolds, name, since);
        held = { count: waiting.length, more: false, eventIds: waiting.slice(0, options.limit) };
      } else if (note === undefined) {
        const { deliveries, more } =
          kind === "function"
            ? await heldOf(store, name)
            : {
                deliveries: byRoot?.due.get(kind === "root" ? name : `principal:${name}`) ?? [],
                more: byRoot?.more ?? false,
              };
        if (kind === "function") for (const d of deliveries) store.queue.giveBack(refOf(d));
        const eventIds = deliveries.slice(0, options.limit).map((d) => refOf(d).eventId);
        held = { count: deliveries.length, more, eventIds };
      }
      entries.push({
        scope: { kind, name },
        since: new Date(since).toISOString(),
        reason:
          typeof finding?.summary === "string"
            ? finding.summary
            : `${kind === "function" ? "quarantined" : "held"}; its finding event is not in the log (pruned)`,
        finding,
        findingId,
        held,
        ...(note === undefined ? {} : { heldNote: note }),
      });
    }
  } finally {
    for (const d of byRoot?.taken ?? []) store.queue.giveBack(refOf(d));
  }
  return entries;
}

/**
 * What an operator's hold is on: a function (quarantine), a principal, or one capability target of
 * a function (`<function>/<capability>:<target>`, see parseCapabilityScope).
 */
export interface HoldTarget {
  readonly kind: "function" | "principal" | "capability";
  readonly name: string;
}

/** The audit record of an operator's hold, by what is held. */
export const HOLD_AUDIT_KIND = {
  function: AUDIT_KIND.quarantined,
  principal: AUDIT_KIND.principalHeld,
  capability: AUDIT_KIND.capabilityHeld,
} as const;

/** The audit record of an operator's release, by what was held. */
export const RELEASE_AUDIT_KIND = {
  function: AUDIT_KIND.quarantineLifted,
  principal: AUDIT_KIND.principalReleased,
  capability: AUDIT_KIND.capabilityReleased,
} as const;

/** The stored hold of one target: when it began, and how to impose or lift it. */
interface StoredHold {
  readonly since: number | undefined;
  impose(at: number): Promise<void>;
  /** False when it was not held. */
  lift(): Promise<boolean>;
}

async function storedHold(app: AppModel, store: Store, target: HoldTarget): Promise<StoredHold> {
  if (target.kind === "capability") {
    const holds = openCapabilityHoldStore(store.state);
    const found = (await holds.list()).find((h) => h.root === target.name);
    return {
      since: found?.since,
      impose: (at) => holds.impose(target.name, at),
      lift: () => holds.release(target.name),
    };
  }
  const names = target.kind === "function" ? [...app.functions.keys()] : [...app.principals.keys()];
  const quarantine = await openQuarantine(store.state, names, target.kind);
  return {
    since: quarantine.since(target.name),
    impose: (at) => quarantine.impose(target.name, at),
    lift: () => quarantine.lift(target.name),
  };
}

/** The result of `hold`: the finding event's data, or why there is none. */
export type HoldResult =
  | { readonly ok: true; readonly since: string; readonly findingId: string; readonly summary: string }
  | { readonly ok: false; readonly since: string };

/**
 * The operator's kill switch: quarantines a function (or holds a principal, or one capability
 * target of a function) now, as a detector would. The hold is a `palisade.security.anomaly` event (detector `operator`) that list shows and
 * functions may subscribe to. `ok: false` when it was held already.
 */
export async function imposeHold(
  app: AppModel,
  store: Store,
  target: HoldTarget,
  by: string,
  reason: string | undefined,
): Promise<HoldResult> {
  const hold = await storedHold(app, store, target);
  const was = hold.since;
  if (was !== undefined) return { ok: false, since: new Date(was).toISOString() };
  const at = Date.now();
  const scope = { kind: target.kind, name: target.name };
  const summary = `Held by ${by}${reason === undefined ? "" : `: ${reason}`}`;
  const finding = {
    detector: "operator",
    scope,
    severity: "high",
    summary,
    evidence: { by, ...(reason === undefined ? {} : { reason }) },
    response: target.kind === "function" ? "quarantine" : "hold",
    at: new Date(at).toISOString(),
  };
  const findingId = findingEventId({ scope, at });
  // The finding first: once the hold is visible, list finds why.
  await store.events.append([
    createEvent(
      { type: ANOMALY_TYPE, data: finding, id: findingId },
      { principal: PLATFORM_PRINCIPAL, source: PLATFORM_SOURCE, hop: 0 },
    ),
  ]);
  await hold.impose(at);
  return { ok: true, since: finding.at, findingId, summary };
}

/**
 * Lifts a function's quarantine, a principal's hold or a capability's hold; resolves to when it
 * began, or undefined if it was not held.
 */
export async function liftHold(app: AppModel, store: Store, target: HoldTarget): Promise<number | undefined> {
  const hold = await storedHold(app, store, target);
  if (hold.since === undefined) return undefined;
  return (await hold.lift()) ? hold.since : undefined;
}

/** Lifts a chain's hold (`<principal>/<id>`); false when it is not held. */
export async function releaseChain(store: Store, root: string): Promise<boolean> {
  const holds = openRootHolds(store.state);
  if (!(await holds.list()).some((h) => h.root === root)) return false;
  await holds.release(root);
  return true;
}

/** Every function's due deliveries (taken: give them back), grouped by their chain's root. */
export async function dueByRoot(
  store: Store,
  functions: readonly string[],
): Promise<{ due: Map<string, Delivery[]>; taken: (Delivery | RefusedDelivery)[]; more: boolean }> {
  const due = new Map<string, Delivery[]>();
  const taken: (Delivery | RefusedDelivery)[] = [];
  let more = false;
  for (const fn of functions) {
    const { deliveries, more: fnMore } = await heldOf(store, fn);
    more ||= fnMore;
    taken.push(...deliveries);
    for (const d of deliveries) {
      if ("refused" in d) continue;
      for (const key of [rootKey(d.event), `principal:${d.event.rootprincipal ?? d.event.principal}`])
        due.set(key, [...(due.get(key) ?? []), d]);
    }
  }
  return { due, taken, more };
}

/** The function's due deliveries: while it is quarantined, exactly the work it holds. */
export async function heldOf(
  store: Store,
  fn: string,
): Promise<{ deliveries: (Delivery | RefusedDelivery)[]; more: boolean }> {
  const deliveries = await store.queue.take(fn, HELD_SCAN);
  return { deliveries, more: deliveries.length >= HELD_SCAN };
}

export function refOf(d: Delivery | RefusedDelivery) {
  return "refused" in d
    ? d
    : { seq: d.seq, target: d.target, attempts: d.attempts, eventId: d.event.id, type: d.event.type };
}

export function onNats(store: Store): boolean {
  return store.durability.backend === "nats";
}

/** The ids of the deliveries waiting for the hold of capability `scope` that began at `since`. */
async function waitingFor(holds: CapabilityHoldStore, scope: string, since: number): Promise<string[]> {
  return (await holds.waits(scope)).filter((w) => w.since === since).map((w) => w.id);
}

/**
 * Dead-letters the deliveries waiting for capability `scope`'s hold (the running platform does it,
 * reason `quarantined`, within seconds); the scope stays held. Resolves to how many, or undefined
 * when the scope is not held.
 */
export async function discardCapabilityWaits(store: Store, scope: string): Promise<number | undefined> {
  const holds = openCapabilityHoldStore(store.state);
  const hold = (await holds.list()).find((h) => h.root === scope);
  if (hold === undefined) return undefined;
  const waiting = (await holds.waits(scope)).filter((w) => w.since === hold.since);
  for (const wait of waiting) await holds.setWait(wait, DISCARD_WAIT);
  return waiting.length;
}

/**
 * The capability scope an operator names (`<function>/<capability>:<target>`), checked against the
 * app, with an egress target written as the capability host names it (`https://host:443`); or
 * why it names none.
 */
export function capabilityHoldScope(
  app: AppModel,
  name: string,
): { readonly scope: string } | { readonly problem: string } {
  const parsed = parseCapabilityScope(name);
  if (parsed === undefined)
    return {
      problem: `"${name}" names no capability target: write <function>/<capability>:<target> with capability one of ${HOLDABLE_KINDS.join(", ")}, e.g. checkout/egress:https://api.example.com`,
    };
  if (!app.functions.has(parsed.fn))
    return {
      problem: `No function named "${parsed.fn}" in ${app.manifestPath}; functions: ${[...app.functions.keys()].join(", ") || "none"}`,
    };
  return { scope: capabilityScope(parsed.fn, parsed.capability, parsed.target) };
}
