/**
 * Detector 1's world: event chains run through simulated functions (each with its concurrency and
 * duration), in simulated time, with the real lineage detector asked about every delivery as the
 * platform asks it (`verdict` before each attempt, `emitted` per stored emit, which counts the emit
 * and one invocation per function it is routed to). The platform's own bounds apply: emit grants,
 * `limits.emitsPerInvocation`, the hop limit.
 */
import { createLineage, type Lineage } from "../../src/detect/index.ts";
import { MAX_HOP } from "../../src/events/index.ts";
import type { AmplificationPolicy, RetryPolicy } from "../../src/manifest/index.ts";
import type { ChainEvent, Finding } from "../../src/signals/index.ts";
import { createDeliveryBook, type DeliveryBook } from "./delivery-book.ts";
import { type Clock, createClock } from "./heap.ts";
import { unitOf } from "./rng.ts";
import type { Hit, Range } from "./score.ts";
import type { ChainFunction } from "./sim-app.ts";

/** From an emit's store to its delivery being claimed. */
const DISPATCH_MS = 2;

export interface Emit {
  readonly type: string;
  readonly count: number;
}

/** What a root's chain has cost so far (plans of an adaptive attacker read it). */
export interface RootCost {
  /** Invocations and emits done. */
  cost: number;
  /** Emits so far plus every delivery made (each is one invocation once it runs). */
  committed: number;
}

/** What `fn` emits when it runs for `event` of this root: the event's data steers its code. */
export type Plan = (fn: string, event: ChainEvent, root: RootCost) => readonly Emit[];

export interface SimRoot {
  readonly id: string;
  readonly type: string;
  readonly principal: string;
  readonly at: number;
  readonly plan: Plan;
  /** The injected range it belongs to (ground truth), if any. */
  readonly range?: Range;
  /** From then on its work is not simulated (the horizon of an attack left unbounded). */
  readonly cutAt?: number;
}

/** The app as deployed from `since` on. */
export interface Deployment {
  readonly since: number;
  readonly functions: readonly ChainFunction[];
  /** The emit graph's worst case per root type (worstCaseAmplification of this manifest). */
  readonly budget: (type: string) => number;
}

export interface ChainSimOptions {
  readonly deployments: readonly Deployment[];
  readonly policy: AmplificationPolicy;
  readonly retry: RetryPolicy;
  readonly roots: readonly SimRoot[];
  /** Whether an attempt of `fn` at `at` fails (an outage downstream). */
  readonly failing: (fn: string, at: number) => boolean;
  /** Hears every attempt (the baselines count invocations per function). */
  readonly attempted?: (fn: string, at: number) => void;
  /** Track how every delivery ends (the hold run). */
  readonly book: boolean;
}

export interface RangeCost {
  total: number;
  /** Cumulative cost at the end of each second from the range's start. */
  curve: number[];
}

export interface ChainSimResult {
  findings: Finding[];
  costs: Map<Range, RangeCost>;
  /** The first event of each root at hop 16 (the Lambda-style 16-hop rule's finding). */
  hop16: Hit[];
  /** Deliveries that waited on a held root: of benign roots (collateral), of attack roots. */
  held: { benign: number; attack: number };
  book: DeliveryBook | undefined;
  attempts: number;
}

interface Root extends RootCost {
  readonly sim: SimRoot;
  seq: number;
  reachedHop16: boolean;
}

interface Batch {
  readonly fn: string;
  readonly root: Root;
  readonly type: string;
  readonly hop: number;
  readonly from: string;
  readonly count: number;
  /** Sequence number of the first event (events of one emit share the batch). */
  readonly seq0: number;
  /** Book index of the first delivery. */
  readonly d0: number;
  readonly attempt: number;
  next: number;
}

interface Target {
  readonly spec: ChainFunction;
  queue: Batch[];
  head: number;
  busy: number;
}

/** What one simulation's steps share: its clock, the detector, the functions' queues and the tallies. */
interface World {
  readonly o: ChainSimOptions;
  readonly clock: Clock;
  readonly lineage: Lineage;
  readonly targets: Map<string, Target>;
  readonly subscribers: Map<Deployment, Map<string, string[]>>;
  readonly book: DeliveryBook | undefined;
  readonly result: ChainSimResult;
}

export function simulateChains(o: ChainSimOptions): ChainSimResult {
  const clock = createClock(o.roots[0]?.at ?? 0);
  const findings: Finding[] = [];
  const deployment = (at: number): Deployment => deploymentAt(o.deployments, at);
  const { targets, subscribers } = indexDeployments(o.deployments);
  const lineage = createLineage({
    policy: o.policy,
    budget: (type) => deployment(clock.now()).budget(type),
    maxDepth: (fn) => deployment(clock.now()).functions.find((f) => f.name === fn)?.maxDepth,
    subscribers: (type) => subscribers.get(deployment(clock.now()))?.get(type)?.length ?? 0,
    report: (f) => findings.push(f),
    now: clock.now,
  });
  const book = o.book ? createDeliveryBook() : undefined;
  const result: ChainSimResult = {
    findings,
    costs: new Map(),
    hop16: [],
    held: { benign: 0, attack: 0 },
    book,
    attempts: 0,
  };
  const w: World = { o, clock, lineage, targets, subscribers, book, result };
  // Roots arrive in time order, each scheduling the next (the heap holds one at a time).
  if (o.roots[0] !== undefined) clock.at(o.roots[0].at, () => arrive(w, 0));
  clock.drain();
  return result;
}

/** The deployment live at `at`. */
function deploymentAt(deployments: readonly Deployment[], at: number): Deployment {
  return deployments.findLast((d) => d.since <= at) ?? (deployments[0] as Deployment);
}

/** Each deployment's subscribers per event type, and a queue per function (with its latest spec). */
function indexDeployments(deployments: readonly Deployment[]): Pick<World, "targets" | "subscribers"> {
  const targets = new Map<string, Target>();
  const subscribers = new Map<Deployment, Map<string, string[]>>();
  for (const d of deployments) {
    const map = new Map<string, string[]>();
    for (const f of d.functions) for (const t of f.on) map.set(t, [...(map.get(t) ?? []), f.name]);
    subscribers.set(d, map);
    for (const f of d.functions) targets.set(f.name, { spec: f, queue: [], head: 0, busy: 0 });
  }
  return { targets, subscribers };
}

/** The functions `type` is routed to at `at`. */
function subscribersOf(w: World, type: string, at: number): readonly string[] {
  return w.subscribers.get(deploymentAt(w.o.deployments, at))?.get(type) ?? [];
}

/** `fn` as deployed now (or as last deployed, for a function the live deployment no longer has). */
function specOf(w: World, fn: string): ChainFunction {
  const live = deploymentAt(w.o.deployments, w.clock.now()).functions.find((f) => f.name === fn);
  return live ?? (w.targets.get(fn) as Target).spec;
}

/** Root `i` arrives: one delivery per subscriber; then the next root is scheduled. */
function arrive(w: World, i: number): void {
  const sim = w.o.roots[i];
  if (sim === undefined) return;
  const root: Root = { sim, cost: 0, committed: 0, seq: 0, reachedHop16: false };
  for (const fn of subscribersOf(w, sim.type, sim.at)) {
    const d0 = w.book?.create(1) ?? 0;
    root.committed += 1;
    ready(w, { fn, root, type: sim.type, hop: 0, from: "", count: 1, seq0: 0, d0, attempt: 1, next: 0 });
  }
  const next = w.o.roots[i + 1];
  if (next !== undefined) w.clock.at(next.at, () => arrive(w, i + 1));
}

/** Counts `n` invocations or emits to the root, and to its range's per-second cost curve. */
function bump(w: World, root: Root, n: number): void {
  root.cost += n;
  const range = root.sim.range;
  if (range === undefined) return;
  let c = w.result.costs.get(range);
  if (c === undefined) {
    c = { total: 0, curve: [] };
    w.result.costs.set(range, c);
  }
  const second = Math.floor((w.clock.now() - range.start) / 1000);
  while (c.curve.length < second) c.curve.push(c.total);
  c.total += n;
  c.curve[second] = c.total;
}

/** Event `seq` of `root`, emitted by `from` at `hop`. */
function emittedEvent(root: SimRoot, seq: number, type: string, from: string, hop: number): ChainEvent {
  return {
    id: `${root.id}.${seq}`,
    type,
    principal: `function:${from}`,
    hop,
    rootid: root.id,
    rootprincipal: root.principal,
  };
}

/** The `i`th event of a batch: the root event itself at hop 0. */
function eventOf(b: Batch, i: number): ChainEvent {
  return b.hop === 0
    ? { id: b.root.sim.id, type: b.type, principal: b.root.sim.principal, hop: 0 }
    : emittedEvent(b.root.sim, b.seq0 + i, b.type, b.from, b.hop);
}

/** `count` events of `type` were stored: a batch for each subscriber, claimed after DISPATCH_MS. */
function enqueue(
  w: World,
  root: Root,
  type: string,
  hop: number,
  from: string,
  count: number,
  seq0: number,
): void {
  for (const fn of subscribersOf(w, type, w.clock.now())) {
    const d0 = w.book?.create(count) ?? 0;
    root.committed += count;
    const b: Batch = { fn, root, type, hop, from, count, seq0, d0, attempt: 1, next: 0 };
    w.clock.at(w.clock.now() + DISPATCH_MS, () => ready(w, b));
  }
}

/** A batch's deliveries are claimed: they join their function's queue. */
function ready(w: World, b: Batch): void {
  const t = w.targets.get(b.fn) as Target;
  t.queue.push(b);
  pump(w, t);
}

const isBenign = (root: Root): boolean => root.sim.range === undefined || root.sim.range.kind === "benign";

/** Starts the function's queued deliveries while it has free concurrency, each as lineage rules. */
function pump(w: World, t: Target): void {
  const { clock, book, result } = w;
  while (t.busy < t.spec.concurrency && t.head < t.queue.length) {
    const b = t.queue[t.head] as Batch;
    if (b.next >= b.count) {
      t.head += 1;
      if (t.head > 1024 && t.head * 2 > t.queue.length) {
        t.queue = t.queue.slice(t.head);
        t.head = 0;
      }
      continue;
    }
    const i = b.next++;
    const cut = b.root.sim.cutAt;
    if (cut !== undefined && clock.now() >= cut) {
      book?.end(b.d0 + i, "cut");
      continue;
    }
    const event = eventOf(b, i);
    const verdict = w.lineage.verdict(b.fn, event);
    if (verdict !== "run") {
      book?.end(b.d0 + i, verdict === "wait" ? "held" : "discarded");
      if (isBenign(b.root)) result.held.benign += 1;
      else result.held.attack += 1;
      continue;
    }
    t.busy += 1;
    result.attempts += 1;
    w.o.attempted?.(b.fn, clock.now());
    if (b.attempt === 1) bump(w, b.root, 1); // a retry is the same work again, not more of its chain
    const ms = t.spec.durationMs * (0.5 + unitOf(`${event.id}>${b.fn}`));
    clock.at(clock.now() + ms, () => done(w, t, b, i, event));
  }
}

/** An attempt ends: retried with backoff or dead-lettered in an outage, else delivered and its emits made. */
function done(w: World, t: Target, b: Batch, i: number, event: ChainEvent): void {
  const { o, clock, book } = w;
  t.busy -= 1;
  if (o.failing(b.fn, clock.now())) {
    if (b.attempt >= o.retry.attempts) book?.end(b.d0 + i, "dead-lettered");
    else {
      const delay = Math.min(o.retry.initialDelayMs * 2 ** (b.attempt - 1), o.retry.maxDelayMs);
      const again: Batch = {
        ...b,
        count: 1,
        seq0: b.seq0 + i,
        d0: b.d0 + i,
        attempt: b.attempt + 1,
        next: 0,
      };
      clock.at(clock.now() + delay, () => ready(w, again));
    }
  } else {
    book?.end(b.d0 + i, "delivered");
    emit(w, b, event);
  }
  pump(w, t);
}

/** What the delivered function emits, as its plan says and the capability host allows. */
function emit(w: World, b: Batch, event: ChainEvent): void {
  const spec = specOf(w, b.fn);
  let allowed = spec.emitsPerInvocation;
  for (const e of b.root.sim.plan(b.fn, event, b.root)) {
    // The capability host refuses an ungranted type, emits past the limit, and hops past 16.
    const n = Math.min(e.count, allowed);
    if (n <= 0 || !spec.emit.includes(e.type) || b.hop + 1 > MAX_HOP) continue;
    allowed -= n;
    const seq0 = b.root.seq;
    b.root.seq += n;
    const hop = b.hop + 1;
    for (let k = 0; k < n; k++)
      w.lineage.emitted(b.fn, emittedEvent(b.root.sim, seq0 + k, e.type, b.fn, hop));
    bump(w, b.root, n);
    b.root.committed += n;
    if (hop >= MAX_HOP && !b.root.reachedHop16) {
      b.root.reachedHop16 = true;
      w.result.hop16.push({ scope: `root:${b.root.sim.principal}/${b.root.sim.id}`, at: w.clock.now() });
    }
    enqueue(w, b.root, e.type, hop, b.fn, n, seq0);
  }
}
