import { userInfo } from "node:os";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { findingEventId, openQuarantine, openRootHolds } from "../../detect/index.ts";
import { createEvent, PLATFORM_PRINCIPAL, PLATFORM_SOURCE } from "../../events/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";
import {
  dueByRoot,
  HELD_SCAN,
  heldOf,
  holdTarget,
  onNats,
  PRINCIPAL_SCOPE,
  ROOT_SCOPE,
  refOf,
  withHeldChain,
  withQuarantined,
} from "./quarantine-scopes.ts";

/** The type of the event that carries a finding (the operator's hold is one too). */
const ANOMALY_TYPE = "palisade.security.anomaly";

/**
 * On NATS the workers keep a held function's deliveries leased (buffered, with heartbeats) while
 * they wait, so another process cannot read or settle them: list says so, discard refuses.
 */
const NATS_HELD =
  "held deliveries are not listed on NATS: the workers keep them leased while the function is quarantined";

/** One quarantined scope, as `palisade quarantine list --json` prints it. */
export interface QuarantineEntry {
  /** A quarantined function, a held principal, or a held chain (its root, `<principal>/<id>`). */
  scope: { kind: "function" | "principal" | "root"; name: string };
  since: string;
  /** The finding's summary, or why it cannot be shown. */
  reason: string;
  /** The `palisade.security.anomaly` event's data (detector, severity, evidence, response), if found. */
  finding: Record<string, unknown> | null;
  findingId: string;
  /** null on NATS (see NATS_HELD). */
  held: { count: number; more: boolean; eventIds: string[] } | null;
}

/** `palisade quarantine list`: quarantined functions and held chains, why, and what each holds. */
export async function runQuarantineList(
  opts: { app: string; json?: boolean; limit: number } & OperatorNatsFlags,
): Promise<number> {
  const app = loadApp(opts.app);
  return withOperatorStore(app, opts, async (store) => {
    const quarantine = await openQuarantine(store.state, [...app.functions.keys()]);
    const principals = await openQuarantine(store.state, [...app.principals.keys()], "principal");
    const roots = await openRootHolds(store.state).list();
    const scopes = [
      ...quarantine.list().map(({ fn, since }) => ({ kind: "function" as const, name: fn, since })),
      ...principals.list().map(({ fn, since }) => ({ kind: "principal" as const, name: fn, since })),
      ...roots.map(({ root, since }) => ({ kind: "root" as const, name: root, since })),
    ];
    // A chain's (or a principal's) held work is any function's due work of that root (or of roots
    // that principal sent): read once, grouped by both.
    const byRoot =
      scopes.every((sc) => sc.kind === "function") || onNats(store)
        ? undefined
        : await dueByRoot(store, [...app.functions.keys()]);
    const entries: QuarantineEntry[] = [];
    for (const { kind, name, since } of scopes) {
      const findingId = findingEventId({ scope: { kind, name }, at: since });
      const [stored] = await store.events.find(findingId);
      const finding = (stored?.event.data as Record<string, unknown> | undefined) ?? null;
      const held = onNats(store)
        ? undefined
        : kind === "function"
          ? await heldOf(store, name)
          : {
              deliveries: byRoot?.due.get(kind === "root" ? name : `principal:${name}`) ?? [],
              more: byRoot?.more ?? false,
            };
      if (kind === "function") for (const d of held?.deliveries ?? []) store.queue.giveBack(refOf(d));
      entries.push({
        scope: { kind, name },
        since: new Date(since).toISOString(),
        reason:
          typeof finding?.summary === "string"
            ? finding.summary
            : `${kind === "function" ? "quarantined" : "held"}; its finding event is not in the log (pruned)`,
        finding,
        findingId,
        held:
          held === undefined
            ? null
            : {
                count: held.deliveries.length,
                more: held.more,
                eventIds: held.deliveries.slice(0, opts.limit).map((d) => refOf(d).eventId),
              },
      });
    }
    for (const d of byRoot?.taken ?? []) store.queue.giveBack(refOf(d));
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(entries)}\n`);
      return EXIT_OK;
    }
    if (entries.length === 0) process.stdout.write("no function is quarantined and no chain is held\n");
    for (const e of entries) {
      const count = e.held === null ? "(on NATS: not listed)" : `${e.held.count}${e.held.more ? "+" : ""}`;
      const name = e.scope.kind === "function" ? e.scope.name : `${e.scope.kind}:${e.scope.name}`;
      process.stdout.write(
        `${e.scope.kind} ${name}  since ${e.since}  ${count} held deliveries\n  ${e.reason}\n`,
      );
      if (e.held === null) process.stdout.write(`  ${NATS_HELD}\n`);
      else if (e.held.eventIds.length > 0) process.stdout.write(`  held: ${e.held.eventIds.join(" ")}\n`);
    }
    return EXIT_OK;
  });
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
    const quarantine = await openQuarantine(store.state, target.names, target.kind);
    const was = quarantine.since(target.name);
    if (was !== undefined) {
      process.stderr.write(
        `palisade: ${target.kind} "${target.name}" is already ${target.kind === "function" ? "quarantined" : "held"} (since ${new Date(was).toISOString()})\n`,
      );
      return EXIT_FAILURE;
    }
    const at = Date.now();
    const scope = { kind: target.kind, name: target.name };
    const finding = {
      detector: "operator",
      scope,
      severity: "high",
      summary: `Held by ${by}${opts.reason === undefined ? "" : `: ${opts.reason}`}`,
      evidence: { by, ...(opts.reason === undefined ? {} : { reason: opts.reason }) },
      response: target.kind === "function" ? "quarantine" : "hold",
      at: new Date(at).toISOString(),
    };
    // The finding first: once the hold is visible, list finds why.
    await store.events.append([
      createEvent(
        { type: ANOMALY_TYPE, data: finding, id: findingEventId({ scope, at }) },
        { principal: PLATFORM_PRINCIPAL, source: PLATFORM_SOURCE, hop: 0 },
      ),
    ]);
    await quarantine.impose(target.name, at);
    auditCommand(opts.app, {
      kind: target.kind === "function" ? AUDIT_KIND.quarantined : AUDIT_KIND.principalHeld,
      subject: target.name,
      outcome: "denied",
      details: {
        detector: "operator",
        severity: "high",
        summary: finding.summary,
        finding: findingEventId({ scope, at }),
      },
    });
    const result = { [target.kind]: target.name, held: true, since: finding.at };
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(result)}\n`
        : target.kind === "function"
          ? `quarantined ${name}: a running platform stops its work in flight within a second and holds its deliveries until palisade quarantine release ${name}\n`
          : `held ${name}: its requests are refused with 429 and its chains' work waits until palisade quarantine release ${name} (a running platform picks this up within a second)\n`,
    );
    return EXIT_OK;
  });
}

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
      const holds = await openQuarantine(store.state, target.names, "principal");
      if (!(await holds.lift(target.name))) {
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
  if (fn.startsWith(ROOT_SCOPE))
    return withHeldChain(fn, opts, async (holds, root) => {
      await holds.release(root);
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
