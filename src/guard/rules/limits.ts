import { type AppModel, emitCycles } from "../../manifest/index.ts";
import type { CheckContext } from "../check-context.ts";
import { describePath } from "../describe-path.ts";
import type { Hit } from "../finding.ts";
import { isExternal } from "../flow-graph.ts";
import { reachable, shortestPath } from "../graph-search.ts";

/** Longest invocation the guard accepts without a finding. */
export const MAX_TIMEOUT_MS = 60_000;

/** PAL020–PAL023: bounds on what a function may cost. */
export const LIMIT_RULES = {
  PAL020: (ctx: CheckContext): Hit[] =>
    [...ctx.app.functions.values()]
      .filter((fn) => fn.limits.timeoutMs > MAX_TIMEOUT_MS)
      .map((fn) => ({
        message: `Function "${fn.name}" may run ${fn.limits.timeoutMs} ms per invocation (over ${MAX_TIMEOUT_MS / 1000} s)`,
        fix: `lower functions.${fn.name}.limits.timeoutMs to ${MAX_TIMEOUT_MS} or less; split long work into emitted steps`,
        location: ctx.at(["functions", fn.name, "limits", "timeoutMs"]),
      })),

  PAL021: (ctx: CheckContext): Hit[] =>
    [...ctx.app.functions.values()]
      .filter((fn) => {
        const raw = rawFunction(ctx, fn.name);
        return (
          raw !== undefined &&
          (raw.limits as { concurrency?: unknown } | undefined)?.concurrency === undefined
        );
      })
      .map((fn) => ({
        message: `Function "${fn.name}" states no concurrency limit (the default, ${fn.limits.concurrency}, applies)`,
        fix: `add concurrency: ${fn.limits.concurrency} (or the bound you want) to functions.${fn.name}.limits`,
        location: ctx.at(["functions", fn.name, "limits", "concurrency"]),
      })),

  PAL022: (ctx: CheckContext): Hit[] => {
    const external = ctx.graph.sources.filter((s) => isExternal(s.trust));
    return [...ctx.app.functions.values()].flatMap((fn) => {
      if (fn.limits.dailyInvocations !== undefined) return [];
      const from = external.find((s) => reachable(ctx.graph, [s.id]).has(`f:${fn.name}`));
      if (from === undefined) return [];
      const path = shortestPath(ctx.graph, from.id, `f:${fn.name}`) ?? [];
      return [
        {
          message: `Function "${fn.name}" has no daily invocation budget and outside input reaches it: ${describePath(ctx.graph, path)}`,
          fix: `add dailyInvocations: N (the most you are willing to pay for per day) to functions.${fn.name}.limits`,
          location: ctx.at(["functions", fn.name, "limits", "dailyInvocations"]),
        },
      ];
    });
  },

  PAL023: (ctx: CheckContext): Hit[] =>
    emitCycles(withoutEmitsIntoVerifiedOnly(ctx.app)).flatMap((cycle) =>
      cycle
        .filter((name) => ctx.app.functions.get(name)?.recursion === undefined)
        .map((name) => ({
          message: `Function "${name}" is on a cycle of the emit graph (${cycle.join(" → ")} can cause its own trigger) and declares no recursion depth: only the hop limit (${ctx.app.hopLimit}) ends a chain through it`,
          fix: `add recursion: { maxDepth: N } to functions.${name} (the deepest chain it should run in; deeper events are held, with a finding), or break the cycle`,
          location: ctx.at(["functions", name]),
        })),
    ),
};

// What a function emits is never verified (only the gateway marks an event so), so it never enters a
// function with requireVerified: such a function is on no cycle of the emit graph.
function withoutEmitsIntoVerifiedOnly(app: AppModel): AppModel {
  const functions = new Map(
    [...app.functions].map(([name, fn]) => [name, fn.requireVerified ? { ...fn, on: [] } : fn]),
  );
  return { ...app, functions };
}

function rawFunction(ctx: CheckContext, name: string): Record<string, unknown> | undefined {
  const fns = ctx.manifest.functions as Record<string, Record<string, unknown>> | undefined;
  return fns?.[name];
}
