import { userInfo } from "node:os";
import {
  discardCapabilityWaits,
  HELD_SCAN,
  HOLD_AUDIT_KIND,
  type HoldTarget,
  heldOf,
  imposeHold,
  liftHold,
  listQuarantine,
  onNats,
  type QuarantineEntry,
  refOf,
} from "../../admin/index.ts";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import type { AppStore } from "../../open-store.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";
import {
  CAPABILITY_SCOPE,
  holdTarget,
  PRINCIPAL_SCOPE,
  ROOT_SCOPE,
  withHeldChain,
  withQuarantined,
} from "./quarantine-scopes.ts";

/** `palisade quarantine list`: quarantined functions and held chains, why, and what each holds. */
export async function runQuarantineList(
  opts: { app: string; json?: boolean; limit: number } & OperatorNatsFlags,
): Promise<number> {
  const app = loadApp(opts.app);
  return withOperatorStore(app, opts, async (store) => {
    printQuarantine(
      await listQuarantine(app, store, { limit: opts.limit, scanChains: true }),
      opts.json === true,
    );
    return EXIT_OK;
  });
}

/** Prints what is held and why (or a JSON array). */
export function printQuarantine(entries: readonly QuarantineEntry[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(entries)}\n`);
    return;
  }
  if (entries.length === 0)
    process.stdout.write("nothing is held: no function, principal, chain or capability target\n");
  for (const e of entries) {
    const count = e.held === null ? "(on NATS: not listed)" : `${e.held.count}${e.held.more ? "+" : ""}`;
    const name = e.scope.kind === "function" ? e.scope.name : `${e.scope.kind}:${e.scope.name}`;
    process.stdout.write(
      `${e.scope.kind} ${name}  since ${e.since}  ${count} held deliveries\n  ${e.reason}\n`,
    );
    if (e.heldNote !== undefined) process.stdout.write(`  ${e.heldNote}\n`);
    else if (e.held !== null && e.held.eventIds.length > 0)
      process.stdout.write(`  held: ${e.held.eventIds.join(" ")}\n`);
  }
}

/**
 * `palisade quarantine hold <function> [--reason TEXT]`: the operator's kill switch. Quarantines the
 * function now, as a detector would: a running platform stops its work in flight within a second
 * (given back unattempted) and holds its deliveries until `release`. The hold is a
 * `palisade.security.anomaly` event (detector `operator`) that `list` shows and functions may
 * subscribe to, and an audit record with the operator's name.
 */
export async function runQuarantineHold(
  name: string,
  opts: { app: string; json?: boolean; reason?: string } & OperatorNatsFlags,
): Promise<number> {
  const app = loadApp(opts.app);
  const target = holdTarget(app, name);
  const by = `cli:${userInfo().username}`;
  return withOperatorStore(app, opts, async (store) => {
    const hold = await imposeHold(app, store, target, by, opts.reason);
    if (!hold.ok) {
      process.stderr.write(
        `palisade: ${target.kind} "${target.name}" is already ${target.kind === "function" ? "quarantined" : "held"} (since ${hold.since})\n`,
      );
      return EXIT_FAILURE;
    }
    auditCommand(opts.app, {
      kind: HOLD_AUDIT_KIND[target.kind],
      subject: target.name,
      outcome: "denied",
      details: { detector: "operator", severity: "high", summary: hold.summary, finding: hold.findingId },
    });
    const result = { [target.kind]: target.name, held: true, since: hold.since };
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(result)}\n`
        : HOLD_TEXT[target.kind](target.kind === "capability" ? `${CAPABILITY_SCOPE}${target.name}` : name),
    );
    return EXIT_OK;
  });
}

const HOLD_TEXT = {
  function: (name: string) =>
    `quarantined ${name}: a running platform stops its work in flight within a second and holds its deliveries until palisade quarantine release ${name}\n`,
  principal: (name: string) =>
    `held ${name}: its requests are refused with 429 and its chains' work waits until palisade quarantine release ${name} (a running platform picks this up within a second)\n`,
  capability: (name: string) =>
    `held ${name}: calls to it are not made and their deliveries wait, pending, until palisade quarantine release ${name}; the function's other work runs (a running platform picks this up within ${CAPABILITY_PICKUP})\n`,
} as const;

/** How soon a running platform sees a capability hold an operator imposed elsewhere. */
const CAPABILITY_PICKUP = "5 seconds";

/**
 * `palisade quarantine release <function>`: lifts the quarantine. The held deliveries were never
 * attempted; a running platform starts them within a second, oldest first, at the function's own
 * concurrency, each once.
 */
export async function runQuarantineRelease(
  fn: string,
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  if (fn.startsWith(PRINCIPAL_SCOPE)) {
    const app = loadApp(opts.app);
    const target = holdTarget(app, fn);
    return withOperatorStore(app, opts, async (store) => {
      if ((await liftHold(app, store, target)) === undefined) {
        process.stderr.write(`palisade: principal "${target.name}" is not held (palisade quarantine list)\n`);
        return EXIT_FAILURE;
      }
      auditCommand(opts.app, {
        kind: AUDIT_KIND.principalReleased,
        subject: target.name,
        outcome: "allowed",
      });
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ principal: target.name, released: true })}\n`
          : `released ${fn}: its requests are accepted again and its chains' held work runs (a running platform picks this up within a second)\n`,
      );
      return EXIT_OK;
    });
  }
  if (fn.startsWith(CAPABILITY_SCOPE)) return releaseCapability(fn, opts);
  if (fn.startsWith(ROOT_SCOPE))
    return withHeldChain(fn, opts, async (holds, root) => {
      await holds.release(root); // withHeldChain found it held
      auditCommand(opts.app, { kind: AUDIT_KIND.chainReleased, subject: root, outcome: "allowed" });
      const result = { root, released: true };
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(result)}\n`
          : `released ${fn}: its held deliveries run now, oldest first, and the chain is not held again (a running platform picks this up within a second)\n`,
      );
      return EXIT_OK;
    });
  return withQuarantined(fn, opts, async (_store, quarantine, since) => {
    await quarantine.lift(fn);
    auditCommand(opts.app, {
      kind: AUDIT_KIND.quarantineLifted,
      subject: fn,
      outcome: "allowed",
      details: { since: new Date(since).toISOString() },
    });
    const result = { function: fn, released: true };
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(result)}\n`
        : `released ${fn}: its held deliveries run now, oldest first (a running platform picks this up within a second)\n`,
    );
    return EXIT_OK;
  });
}

/**
 * `palisade quarantine discard <function>`: dead-letters the function's held deliveries with reason
 * `quarantined` (each stays replayable with `dlq replay`). The function stays quarantined: new
 * work keeps being held until `release`.
 */
export async function runQuarantineDiscard(
  fn: string,
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  const by = `cli:${userInfo().username}`;
  if (fn.startsWith(PRINCIPAL_SCOPE))
    throw usageError(
      `A held principal's work is not discarded as a whole: its chains are listed as root:<principal>/<id> once a detector holds them; release it (palisade quarantine release ${fn}), or keep it held`,
    );
  if (fn.startsWith(CAPABILITY_SCOPE)) return discardCapability(fn, opts);
  if (fn.startsWith(ROOT_SCOPE))
    return withHeldChain(fn, opts, async (holds, root) => {
      await holds.discard(root);
      auditCommand(opts.app, {
        kind: AUDIT_KIND.chainDiscarded,
        subject: root,
        outcome: "allowed",
        details: { by },
      });
      const result = { root, discarded: true };
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(result)}\n`
          : `discarded ${fn}: the running platform dead-letters its held deliveries within a second (reason quarantined; dlq replay brings one back), and later work of the chain as it comes (at its next start if none runs now)\n`,
      );
      return EXIT_OK;
    });
  return withQuarantined(fn, opts, async (store, _quarantine, since) => {
    if (onNats(store))
      throw usageError(
        `Cannot discard ${fn}'s held deliveries on NATS yet: the workers keep them leased while it is quarantined. Release it (palisade quarantine release ${fn}), or keep it quarantined`,
      );
    let discarded = 0;
    // Passes until one comes back short: work that keeps arriving is held too, and stays for the next discard.
    for (let more = true; more; ) {
      const { deliveries } = await heldOf(store, fn);
      more = deliveries.length >= HELD_SCAN;
      for (const d of deliveries) {
        const error = `discarded by ${by} while ${fn} was quarantined (since ${new Date(since).toISOString()})`;
        await store.queue.settle(refOf(d), {
          kind: "failed",
          ...("refused" in d ? d.refused : { reason: "quarantined", error }),
        });
        discarded++;
      }
    }
    auditCommand(opts.app, {
      kind: AUDIT_KIND.quarantineDiscarded,
      subject: fn,
      outcome: "allowed",
      details: { since: new Date(since).toISOString(), count: discarded },
    });
    const result = { function: fn, discarded, quarantined: true };
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(result)}\n`
        : `dead-lettered ${discarded} held deliveries of ${fn} (reason quarantined; dlq replay brings one back); ${fn} stays quarantined until palisade quarantine release ${fn}\n`,
    );
    return EXIT_OK;
  });
}

/** `release capability:<scope>`: the deliveries its hold kept run again, each once. */
function releaseCapability(name: string, opts: { app: string; json?: boolean } & OperatorNatsFlags) {
  return onHeldCapability(
    name,
    opts,
    (app, store, target) => liftHold(app, store, target),
    (scope, since) => {
      auditCommand(opts.app, {
        kind: AUDIT_KIND.capabilityReleased,
        subject: scope,
        outcome: "allowed",
        details: { since: new Date(since).toISOString() },
      });
      return opts.json
        ? { capability: scope, released: true }
        : `released ${CAPABILITY_SCOPE}${scope}: calls to it are made again and the deliveries it held run, oldest first, each once (a running platform picks this up within ${CAPABILITY_PICKUP})`;
    },
  );
}

/** `discard capability:<scope>`: the deliveries its hold kept are dead-lettered; it stays held. */
function discardCapability(name: string, opts: { app: string; json?: boolean } & OperatorNatsFlags) {
  return onHeldCapability(
    name,
    opts,
    (_app, store, target) => discardCapabilityWaits(store, target.name),
    (scope, count) => {
      auditCommand(opts.app, {
        kind: AUDIT_KIND.capabilityDiscarded,
        subject: scope,
        outcome: "allowed",
        details: { count },
      });
      return opts.json
        ? { capability: scope, discarded: count, held: true }
        : `discarding ${count} held deliveries of ${CAPABILITY_SCOPE}${scope}: the running platform dead-letters them within ${CAPABILITY_PICKUP} (reason quarantined; dlq replay brings one back); the target stays held until palisade quarantine release ${CAPABILITY_SCOPE}${scope}`;
    },
  );
}

/**
 * Runs `act` on a held capability scope (exit 1 naming it when it is not held: `act` resolves to
 * undefined), then prints what `done` makes of its result: a JSON object, or a line.
 */
async function onHeldCapability(
  name: string,
  opts: { app: string } & OperatorNatsFlags,
  act: (app: AppModel, store: AppStore, target: HoldTarget) => Promise<number | undefined>,
  done: (scope: string, value: number) => object | string,
): Promise<number> {
  const app = loadApp(opts.app);
  const target = holdTarget(app, name);
  return withOperatorStore(app, opts, async (store) => {
    const value = await act(app, store, target);
    if (value === undefined) {
      process.stderr.write(`palisade: capability ${target.name} is not held (palisade quarantine list)\n`);
      return EXIT_FAILURE;
    }
    const out = done(target.name, value);
    process.stdout.write(`${typeof out === "string" ? out : JSON.stringify(out)}\n`);
    return EXIT_OK;
  });
}
