import { resolve } from "node:path";
import { ATTEMPTS_PREFIX, COST_PREFIX, costCounter, NANO_PER_USD, utcDay } from "../../cost/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";

/** One function's or principal's spend on a day, as `palisade cost --json` prints it. */
export interface SpendRow {
  kind: "function" | "principal";
  name: string;
  /** US dollars, by the app's cost model. */
  spentUsd: number;
  attempts: number;
  /** The daily budget in US dollars, if one is set. */
  budgetUsd: number | null;
}

/**
 * `palisade cost [--day YYYY-MM-DD] [--json]`: spend per function and per principal (whose events
 * started the chains) on one UTC day (today by default), by the app's cost model, next to their
 * budgets. Read from the deployment's shared state (`.palisade/events.db`, or NATS with `--nats`),
 * where every running node adds its spend once a second.
 */
export async function runCost(
  opts: { app: string; day?: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  const day = opts.day ?? utcDay(Date.now());
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
    throw usageError(`--day "${day}" is not a date; give a UTC day as YYYY-MM-DD`);
  const app = loadApp(resolve(opts.app));
  const rows = await withOperatorStore(app, opts, async (store) => {
    const spent = await store.state.list(COST_PREFIX);
    const attempts = new Map((await store.state.list(ATTEMPTS_PREFIX)).map((v) => [v.name, v.value]));
    const found = new Map<string, SpendRow>();
    for (const { name, value } of spent) {
      const match = /^cost:(function|principal):(.+):(\d{4}-\d{2}-\d{2})$/.exec(name);
      if (match === null || match[3] !== day) continue;
      const kind = match[1] as SpendRow["kind"];
      const scope = { kind, name: match[2] ?? "" };
      found.set(`${kind}:${scope.name}`, {
        ...scope,
        spentUsd: value / NANO_PER_USD,
        attempts: attempts.get(costCounter(ATTEMPTS_PREFIX, scope, day)) ?? 0,
        budgetUsd: budgetOf(scope.kind, scope.name),
      });
    }
    // Budgeted scopes show even before they spend anything.
    for (const fn of app.functions.values())
      if (fn.limits.costPerDay !== undefined && !found.has(`function:${fn.name}`))
        found.set(`function:${fn.name}`, {
          kind: "function",
          name: fn.name,
          spentUsd: 0,
          attempts: 0,
          budgetUsd: fn.limits.costPerDay,
        });
    for (const p of app.principals.values())
      if (p.costPerDay !== undefined && !found.has(`principal:${p.name}`))
        found.set(`principal:${p.name}`, {
          kind: "principal",
          name: p.name,
          spentUsd: 0,
          attempts: 0,
          budgetUsd: p.costPerDay,
        });
    return [...found.values()].sort((a, b) => a.kind.localeCompare(b.kind) || b.spentUsd - a.spentUsd);
  });

  function budgetOf(kind: SpendRow["kind"], name: string): number | null {
    const usd =
      kind === "function" ? app.functions.get(name)?.limits.costPerDay : app.principals.get(name)?.costPerDay;
    return usd ?? null;
  }

  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ day, rows })}\n`);
    return EXIT_OK;
  }
  process.stdout.write(`spend on ${day} (UTC), by the cost model (cost.prices)\n`);
  if (rows.length === 0) process.stdout.write("  nothing ran\n");
  for (const r of rows) {
    const budget =
      r.budgetUsd === null
        ? ""
        : `  of ${usd(r.budgetUsd)} (${Math.round((r.spentUsd / r.budgetUsd) * 100)} %)`;
    process.stdout.write(
      `  ${r.kind.padEnd(9)} ${r.name.padEnd(28)} ${usd(r.spentUsd).padStart(14)}  ${String(r.attempts).padStart(8)} attempts${budget}\n`,
    );
  }
  return EXIT_OK;
}

function usd(v: number): string {
  return `$${v.toFixed(v >= 1 ? 2 : 8)}`;
}
