/**
 * What `palisade quarantine` commands are about: a function, a principal (`principal:<name>`), a
 * chain (`root:<principal>/<id>`) or a capability target (`capability:<function>/<kind>:<target>`),
 * how each is found in the app and the store, and the due deliveries each holds.
 */
import { capabilityHoldScope, type HoldTarget } from "../../admin/index.ts";
import { openQuarantine, openRootHolds, type Quarantine, type RootHolds } from "../../detect/index.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import type { AppStore } from "../../open-store.ts";
import { EXIT_FAILURE } from "../exit-codes.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";

/** How a held chain is named on the command line: `root:<principal>/<id>`. */
export const ROOT_SCOPE = "root:";
/** How a held principal is named on the command line: `principal:<name>`. */
export const PRINCIPAL_SCOPE = "principal:";
/** How a held capability target is named on the command line: `capability:<function>/<kind>:<target>`. */
export const CAPABILITY_SCOPE = "capability:";

/** What `hold`/`release` name: a function, `principal:<name>` or `capability:<scope>`. */
export function holdTarget(app: AppModel, name: string): HoldTarget {
  if (name.startsWith(CAPABILITY_SCOPE)) {
    const checked = capabilityHoldScope(app, name.slice(CAPABILITY_SCOPE.length));
    if ("problem" in checked) throw usageError(checked.problem);
    return { kind: "capability", name: checked.scope };
  }
  if (!name.startsWith(PRINCIPAL_SCOPE)) {
    assertFunction(app, name);
    return { kind: "function", name };
  }
  const principal = name.slice(PRINCIPAL_SCOPE.length);
  if (!app.principals.has(principal))
    throw usageError(
      `No principal named "${principal}" in ${app.manifestPath}; principals: ${[...app.principals.keys()].join(", ") || "none"}`,
    );
  return { kind: "principal", name: principal };
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
