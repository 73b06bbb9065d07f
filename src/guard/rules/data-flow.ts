import type { CheckContext } from "../check-context.ts";
import { describePath } from "../describe-path.ts";
import type { Hit } from "../finding.ts";
import { isExternal } from "../flow-graph.ts";
import { reachable, shortestPath } from "../graph-search.ts";

/** PAL040: outside input reaching a function that holds secrets and may send requests out. */
export const DATA_FLOW_RULES = {
  PAL040: (ctx: CheckContext): Hit[] => {
    const external = ctx.graph.sources.filter((s) => isExternal(s.trust));
    return ctx.graph.functions.flatMap((fn) => {
      const { spec, privileges } = fn;
      if (spec.filter !== undefined || privileges.secrets.length === 0 || privileges.egress.length === 0)
        return [];
      const from = external.find((s) => reachable(ctx.graph, [s.id]).has(fn.id));
      if (from === undefined) return [];
      const path = shortestPath(ctx.graph, from.id, fn.id) ?? [];
      return [
        {
          message:
            `Function "${spec.name}" holds secrets (${privileges.secrets.join(", ")}) and egress (${privileges.egress.join(", ")}) ` +
            `and outside input reaches it unfiltered: ${describePath(ctx.graph, path)}`,
          fix: `add a filter: to functions.${spec.name} so only the events it is meant for reach it, or move the secret and egress into a function outside input cannot reach`,
          location: ctx.at(["functions", spec.name, "filter"]),
        },
      ];
    });
  },
};
