import { matchesTypePattern, PLATFORM_EVENT_TYPES } from "../events/index.ts";
import type { AppModel, FunctionSpec } from "./app-model.ts";

/** Past this a worst case is reported as unbounded: no budget that large bounds anything. */
const UNBOUNDED = 1e15;

/**
 * The emit graph's worst case (DESIGN §9, detector 1): for each event type, how many invocations
 * plus emits one event of that type entering from outside (hop 0) may cause. Every subscriber runs
 * once for it; each run may emit `limits.emitsPerInvocation` events of whichever granted type causes
 * most; an emit past the hop limit is refused, and a function with `recursion.maxDepth` runs only for
 * events at most that many hops from their root. A cycle without `recursion` is bounded by the hop
 * limit alone: usually past any useful number, reported as `Infinity`.
 */
export function worstCaseAmplification(app: AppModel): Map<string, number> {
  const runners = runnersOf(app);
  const types = new Set<string>([...app.events.keys(), ...PLATFORM_EVENT_TYPES.keys()]);
  for (const fn of app.functions.values()) for (const t of fn.emit) types.add(t);
  const memo = new Map<string, number>();
  const cost = (type: string, hop: number): number => {
    const key = `${hop}\0${type}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let total = 0;
    for (const fn of runners(type, hop)) {
      let worstEmit = 0;
      if (hop + 1 <= app.hopLimit)
        for (const t of fn.emit) worstEmit = Math.max(worstEmit, 1 + cost(t, hop + 1));
      total += 1 + fn.limits.emitsPerInvocation * worstEmit;
    }
    const bounded = total > UNBOUNDED ? Number.POSITIVE_INFINITY : total;
    memo.set(key, bounded);
    return bounded;
  };
  return new Map([...types].sort().map((t) => [t, cost(t, 0)]));
}

/**
 * The functions an event of a type at a hop is routed to and runs for: those subscribed to the type
 * (filters aside), less those whose `recursion.maxDepth` is below the hop. Memoized per type and hop.
 */
export function runnersOf(app: AppModel): (type: string, hop: number) => readonly FunctionSpec[] {
  const memo = new Map<string, readonly FunctionSpec[]>();
  const fns = [...app.functions.values()];
  return (type, hop) => {
    const key = `${hop}\0${type}`;
    let found = memo.get(key);
    if (found === undefined) {
      found = fns.filter(
        (f) =>
          f.on.some((p) => matchesTypePattern(p, type)) &&
          (f.recursion === undefined || hop <= f.recursion.maxDepth),
      );
      memo.set(key, found);
    }
    return found;
  };
}

/**
 * Functions on a cycle of the emit graph (each can cause its own trigger, through its own emits or
 * others'), grouped by cycle (strongly connected component), in manifest order.
 */
export function emitCycles(app: AppModel): string[][] {
  const fns = [...app.functions.values()];
  const next = new Map(
    fns.map((fn) => [
      fn.name,
      fns.filter((g) => fn.emit.some((t) => g.on.some((p) => matchesTypePattern(p, t)))).map((g) => g.name),
    ]),
  );
  const names = fns.map((f) => f.name);
  return stronglyConnected(names, (v) => next.get(v) ?? []).filter(
    (c) => c.length > 1 || (next.get(c[0] ?? "") ?? []).includes(c[0] ?? ""),
  );
}

/**
 * Tarjan's strongly connected components of the graph on `ids` with successors `next`, each
 * component's ids in the order of `ids` (components in the order Tarjan completes them).
 */
export function stronglyConnected(
  ids: readonly string[],
  next: (id: string) => readonly string[],
): string[][] {
  const order = new Map(ids.map((id, i) => [id, i]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    out.push(component.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0)));
  };
  for (const id of ids) if (!index.has(id)) visit(id);
  return out;
}
