/**
 * Detector 1's workload: a shop whose orders fan out through four functions, a tree walker with
 * `recursion.maxDepth: 6`, a nightly job, and three functions on undeclared cycles (`palisade check`
 * flags them, PAL023; the bench app ships them anyway). A week of benign roots, the hard negatives,
 * and the loop and fan-out ladder, each at a known time.
 */
import { DEFAULT_DETECT, worstCaseAmplification } from "../../src/manifest/index.ts";
import type { Deployment, Emit, Plan, SimRoot } from "./chains.ts";
import { FLASH_FACTOR, FLASH_MS, flashCrowds } from "./flash-crowds.ts";
import { createRangeRecorder, planInjections, type RecordRange } from "./injections.ts";
import { createRng, type Rng, unitOf } from "./rng.ts";
import type { Range, RangeKind } from "./score.ts";
import { type ChainFunction, loadSimApp } from "./sim-app.ts";
import { arrivals, DAY, END, HOUR, MINUTE, START, slots, spread } from "./traffic.ts";

/** How long an attack left alone is simulated: the unbounded cost is bounded by it or by the hop limit. */
export const HORIZON = HOUR;
/** What the adaptive attacker aims at: 90 % of the default maxPerRoot (the budget of a cycle's root). */
export const ADAPTIVE_TARGET = 0.9 * DEFAULT_DETECT.amplification.maxPerRoot;
/** Mean benign orders per second (× the daily shape; 25× in a flash crowd). */
export const ORDERS_PER_SECOND = 0.15;
/** One lap of the webhook loop: the relay runs, its POST comes back through ingress as a new root. */
const LAP_MS = 200;

const fn = (name: string, on: string, emit: string[], epi: number, concurrency: number, ms: number) => ({
  name,
  on: [on],
  emit,
  emitsPerInvocation: epi,
  concurrency,
  durationMs: ms,
});

const V1: readonly ChainFunction[] = [
  fn("checkout", "order.created", ["payment.requested", "email.send"], 2, 8, 30),
  fn("analytics", "order.created", [], 1, 4, 10),
  fn("charge", "payment.requested", ["payment.done"], 1, 8, 80),
  fn("notify", "payment.done", ["email.send"], 1, 4, 20),
  fn("mailer", "email.send", [], 1, 8, 40),
  { ...fn("walker", "walk.step", ["walk.step"], 2, 8, 20), maxDepth: 6 },
  fn("nightly", "report.nightly", ["item.reindex"], 500, 1, 200),
  fn("indexer", "item.reindex", [], 1, 4, 20),
  fn("sync", "item.changed", ["item.changed"], 10, 2, 50),
  fn("ping", "game.ping", ["game.pong"], 3, 2, 50),
  fn("pong", "game.pong", ["game.ping"], 3, 2, 50),
  fn("relay", "hook.received", ["hook.logged"], 1, 2, 50),
  fn("hooklog", "hook.logged", [], 1, 2, 10),
];

/** The deploy: checkout also mails an invoice (3 emits), and a loyalty chain joins payment.done. */
const V2: readonly ChainFunction[] = [
  ...V1.map((f) => (f.name === "checkout" ? { ...f, emitsPerInvocation: 3 } : f)),
  fn("loyalty", "payment.done", ["points.added"], 1, 4, 20),
  fn("ledger", "points.added", [], 1, 4, 20),
];

/** Emit lists are made once (plans run for every invocation). */
const made = new Map<string, readonly Emit[]>();
const e = (type: string, count: number): readonly Emit[] => {
  const key = `${type}*${count}`;
  let list = made.get(key);
  if (list === undefined) {
    list = [{ type, count }];
    made.set(key, list);
  }
  return list;
};
const NONE: readonly Emit[] = [];
const CHECKOUT_V1 = [...e("payment.requested", 1), ...e("email.send", 1)];
const CHECKOUT_V2 = [...e("payment.requested", 1), ...e("email.send", 2)];

const ORDER: Readonly<Record<string, readonly Emit[]>> = {
  charge: e("payment.done", 1),
  notify: e("email.send", 1),
  loyalty: e("points.added", 1),
};
const ORDER_V1: Plan = (name) => (name === "checkout" ? CHECKOUT_V1 : (ORDER[name] ?? NONE));
const ORDER_V2: Plan = (name) => (name === "checkout" ? CHECKOUT_V2 : (ORDER[name] ?? NONE));
const walk =
  (depth: number, perHop = 2): Plan =>
  (name, event) =>
    name === "walker" && event.hop < depth ? e("walk.step", perHop) : NONE;
const only =
  (name: string, emits: readonly Emit[]): Plan =>
  (n) =>
    n === name ? emits : NONE;

/** Fan-out 2 while the root's committed cost stays under ADAPTIVE_TARGET (the attacker knows the budget). */
const adaptive: Plan = (name, _event, root) => {
  if (name !== "sync") return NONE;
  const n = Math.min(2, Math.floor((ADAPTIVE_TARGET - root.committed) / 2));
  return n > 0 ? e("item.changed", n) : NONE;
};

/** The loop and fan-out ladder (and what stays outside it), in the order the tables print. */
export const RUNGS: readonly { label: string; kind: RangeKind; plan?: Plan; fns: string[] }[] = [
  {
    label: "runaway recursion, 1 emit/hop (walker, maxDepth 6)",
    kind: "attack",
    plan: walk(99, 1),
    fns: ["walker"],
  },
  {
    label: "runaway recursion, fan-out 2 (walker, maxDepth 6)",
    kind: "attack",
    plan: walk(99, 2),
    fns: ["walker"],
  },
  {
    label: "undeclared cycle, fan-out 2 (sync)",
    kind: "attack",
    plan: only("sync", e("item.changed", 2)),
    fns: ["sync"],
  },
  {
    label: "undeclared cycle, fan-out 10 (sync)",
    kind: "attack",
    plan: only("sync", e("item.changed", 10)),
    fns: ["sync"],
  },
  {
    label: "two-function cycle, fan-out 3 (ping/pong)",
    kind: "attack",
    plan: (n) => (n === "ping" ? e("game.pong", 3) : n === "pong" ? e("game.ping", 3) : NONE),
    fns: ["ping", "pong"],
  },
  { label: "loop through ingress (each lap a new root)", kind: "blind", fns: ["relay", "hooklog"] },
  { label: "adaptive: chains at 90 % of maxPerRoot, 1/min", kind: "adaptive", fns: ["sync"] },
];

/** Hard negatives, as `palisade` would see them: busy, odd, but benign. */
const HARD_NEGATIVES = [
  "flash crowd",
  "flash crowd",
  "retry storm",
  "retry storm",
  "deep walks",
  "deep walks",
];

export interface LineageWorkload {
  readonly deployments: readonly Deployment[];
  readonly roots: readonly SimRoot[];
  readonly ranges: readonly Range[];
  readonly failing: (fn: string, at: number) => boolean;
}

/** What the workload is building: its roots, its ranges, and the hard negatives the traffic follows. */
interface Builder {
  /** Adds a root, its id made of `tag` (an attack's root joins its range's scopes). */
  readonly add: (r: Omit<SimRoot, "id">, tag: string) => void;
  readonly range: RecordRange;
  readonly flash: Range[];
  readonly outages: Range[];
}

export function lineageWorkload(seed: number): LineageWorkload {
  const rng = createRng(seed).fork("lineage");
  const roots: SimRoot[] = [];
  const ranges: Range[] = [];
  const b: Builder = {
    add: (r, tag) => {
      const id = `${tag}-${roots.length}`;
      roots.push({ ...r, id });
      r.range?.scopes.add(`root:${r.principal}/${id}`);
    },
    range: createRangeRecorder(ranges, "fn"),
    flash: [],
    outages: [],
  };
  const all = planInjections(RUNGS, "deploy", ...HARD_NEGATIVES);
  const starts = slots(rng.fork("slots"), all.length, START + DAY, END - 3 * HOUR, 2 * HOUR);
  let deployAt = END;
  all.forEach((what, i) => {
    const at = starts[i] as number;
    if (what === "deploy") deployAt = at;
    else if (typeof what === "string") hardNegative(b, rng.fork(`hn${i}`), what, at);
    else attack(b, rng.fork(`attack${i}`), what, at);
  });
  const deploy = b.range("deploy of a new version (graph grows)", "benign", deployAt, HOUR, [
    "checkout",
    "loyalty",
    "ledger",
    "mailer",
  ]);
  addBackground(b, rng, deployAt);
  attribute(roots, [...b.flash, ...b.outages, deploy]);
  roots.sort((x, y) => x.at - y.at);
  return {
    deployments: [
      { since: START, functions: V1, budget: budgetOf(V1) },
      { since: deployAt, functions: V2, budget: budgetOf(V2) },
    ],
    roots,
    ranges,
    failing: (name, at) =>
      name === "charge" && b.outages.some((o) => at >= o.start && at < o.start + 10 * MINUTE),
  };
}

/** One rung's roots, left unbounded until HORIZON. */
function attack(b: Builder, r: Rng, rung: (typeof RUNGS)[number], at: number): void {
  const rg = b.range(rung.label, rung.kind, at, HORIZON, rung.fns);
  const cutAt = at + HORIZON;
  if (rung.kind === "blind")
    for (let t = at; t < cutAt; t += LAP_MS)
      b.add(
        {
          type: "hook.received",
          principal: "partner",
          at: t,
          plan: only("relay", e("hook.logged", 1)),
          range: rg,
          cutAt,
        },
        "lap",
      );
  else if (rung.kind === "adaptive")
    for (let t = at; t < cutAt; t += MINUTE)
      b.add(
        { type: "item.changed", principal: "tenant", at: t, plan: adaptive, range: rg, cutAt },
        "adaptive",
      );
  else {
    const type =
      rung.fns[0] === "walker" ? "walk.step" : rung.fns[0] === "sync" ? "item.changed" : "game.ping";
    b.add(
      {
        type,
        principal: "tenant",
        at: at + r.next() * 1000,
        plan: rung.plan ?? (() => NONE),
        range: rg,
        cutAt,
      },
      "attack",
    );
  }
}

function hardNegative(b: Builder, r: Rng, what: string, at: number): void {
  if (what === "flash crowd") {
    const rg = b.range("flash crowd (25× orders, 15 min)", "benign", at, FLASH_MS, [
      "checkout",
      "analytics",
      "charge",
      "notify",
      "mailer",
    ]);
    b.flash.push(rg);
  } else if (what === "retry storm") {
    // charge fails for 10 min; each delivery retries 4 times with backoff (1 + 2 + 4 + 8 s).
    b.outages.push(b.range("retry storm (charge fails 10 min)", "benign", at, 11 * MINUTE, ["charge"]));
  } else {
    const rg = b.range("intended recursion (100 full-depth walks)", "benign", at, 20 * MINUTE, ["walker"]);
    for (const t of spread(r, 100, at, 10 * MINUTE))
      b.add({ type: "walk.step", principal: "app", at: t, plan: walk(6), range: rg }, "walk");
  }
}

/** A week of benign roots: orders (in flash crowds too; a new plan after the deploy), walks, syncs, pings, hooks and the nightly job. */
function addBackground(b: Builder, rng: Rng, deployAt: number): void {
  const busy = flashCrowds(b.flash.map((f) => f.start));
  for (const t of arrivals(rng.fork("orders"), START, END, ORDERS_PER_SECOND, busy, FLASH_FACTOR))
    b.add(
      { type: "order.created", principal: "storefront", at: t, plan: t >= deployAt ? ORDER_V2 : ORDER_V1 },
      "order",
    );
  for (const t of arrivals(rng.fork("walks"), START, END, 6 / 3600))
    b.add(
      { type: "walk.step", principal: "app", at: t, plan: walk(1 + Math.floor(unitOf(`walk${t}`) * 6)) },
      "walk",
    );
  for (const t of arrivals(rng.fork("sync"), START, END, 0.02))
    b.add(
      {
        type: "item.changed",
        principal: "tenant",
        at: t,
        plan: (n, ev) =>
          n === "sync" && ev.hop === 0 && unitOf(`sync${t}`) < 0.5 ? e("item.changed", 1) : NONE,
      },
      "sync",
    );
  for (const t of arrivals(rng.fork("ping"), START, END, 0.01))
    b.add(
      {
        type: "game.ping",
        principal: "player",
        at: t,
        plan: (n, ev) => (n === "ping" && ev.hop === 0 ? e("game.pong", 1) : NONE),
      },
      "ping",
    );
  for (const t of arrivals(rng.fork("hooks"), START, END, 0.02))
    b.add(
      { type: "hook.received", principal: "partner", at: t, plan: only("relay", e("hook.logged", 1)) },
      "hook",
    );
  for (let day = 0; day < 7; day++) {
    const at = START + day * DAY + 2 * HOUR;
    const rg = b.range("cron spike (nightly: 500 items)", "benign", at, 10 * MINUTE, ["nightly", "indexer"]);
    b.add(
      {
        type: "report.nightly",
        principal: "schedule",
        at,
        plan: only("nightly", e("item.reindex", 500)),
        range: rg,
      },
      "cron",
    );
  }
}

/** Background orders inside a hard negative's time are part of it (a finding on them is flagged there). */
function attribute(roots: readonly SimRoot[], negatives: readonly Range[]): void {
  for (const root of roots)
    if (root.type === "order.created" && root.range === undefined)
      for (const rg of negatives)
        if (root.at >= rg.start && root.at <= rg.end) rg.scopes.add(`root:${root.principal}/${root.id}`);
}

/** The budgets the platform derives from this manifest: worstCaseAmplification, else maxPerRoot. */
function budgetOf(functions: readonly ChainFunction[]): (type: string) => number {
  const worst = worstCaseAmplification(loadSimApp("bench-detect", functions));
  return (type) => worst.get(type) ?? DEFAULT_DETECT.amplification.maxPerRoot;
}
