/**
 * What `palisade quarantine` commands are about: a function, a principal (`principal:<name>`) or a
 * chain (`root:<principal>/<id>`), how each is found in the app and the store, and the due
 * deliveries each holds.
 */
import type { Delivery, RefusedDelivery } from "../../bus/index.ts";
import {
  openQuarantine,
  openRootHolds,
  type Quarantine,
  type RootHolds,
  rootKey,
} from "../../detect/index.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import type { AppStore } from "../../open-store.ts";
import { EXIT_FAILURE } from "../exit-code.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";

/** Most held deliveries one read takes (a list's count stops there; `more` then says so). */
export const HELD_SCAN = 10_000;

/** How a held chain is named on the command line: `root:<principal>/<id>`. */
export const ROOT_SCOPE = "root:";
/** How a held principal is named on the command line: `principal:<name>`. */
export const PRINCIPAL_SCOPE = "principal:";

/** Every function's due deliveries (taken: give them back), grouped by their chain's root. */
export async function dueByRoot(
  store: AppStore,
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

/** What `hold`/`release` name: a function, or `principal:<name>`. */
export function holdTarget(
  app: AppModel,
  name: string,
): { kind: "function" | "principal"; name: string; names: string[] } {
  if (!name.startsWith(PRINCIPAL_SCOPE)) {
    assertFunction(app, name);
    return { kind: "function", name, names: [...app.functions.keys()] };
  }
  const principal = name.slice(PRINCIPAL_SCOPE.length);
  if (!app.principals.has(principal))
    throw usageError(
      `No principal named "${principal}" in ${app.manifestPath}; principals: ${[...app.principals.keys()].join(", ") || "none"}`,
    );
  return { kind: "principal", name: principal, names: [...app.principals.keys()] };
}

/** Runs `body` on the app's store when `fn` is quarantined; exit 1 when it is not. */
export async function withQuarantined(
  fn: string,
  opts: { app: string } & OperatorNatsFlags,
  body: (store: AppStore, quarantine: Quarantine, since: number) => Promise<number>,
): Promise<number> {
  const app = loadApp(opts.app);
  assertFunction(app, fn);
  return withOperatorStore(app, opts, async (store) => {
    const quarantine = await openQuarantine(store.state, [...app.functions.keys()]);
    const since = quarantine.since(fn);
    if (since === undefined) {
      process.stderr.write(`palisade: function "${fn}" is not quarantined (palisade quarantine list)\n`);
      return EXIT_FAILURE;
    }
    return body(store, quarantine, since);
  });
}

/** Runs `body` when the chain named `root:<principal>/<id>` is held; exit 1 when it is not. */
export async function withHeldChain(
  scope: string,
  opts: { app: string } & OperatorNatsFlags,
  body: (holds: RootHolds, root: string) => Promise<number>,
): Promise<number> {
  const root = scope.slice(ROOT_SCOPE.length);
  if (!/^.+\/.+$/.test(root))
    throw usageError(
      `"${scope}" names no chain: a held chain is root:<principal>/<event id>, as palisade quarantine list prints it`,
    );
  const app = loadApp(opts.app);
  return withOperatorStore(app, opts, async (store) => {
    const holds = openRootHolds(store.state);
    if (!(await holds.list()).some((h) => h.root === root)) {
      process.stderr.write(`palisade: chain "${root}" is not held (palisade quarantine list)\n`);
      return EXIT_FAILURE;
    }
    return body(holds, root);
  });
}

export function assertFunction(app: AppModel, fn: string): void {
  if (!app.functions.has(fn))
    throw usageError(
      `No function named "${fn}" in ${app.manifestPath}; palisade quarantine list shows the quarantined ones`,
    );
}

export function onNats(store: AppStore): boolean {
  return store.durability.backend === "nats";
}

/** The function's due deliveries: while it is quarantined, exactly the work it holds. */
export async function heldOf(
  store: AppStore,
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
