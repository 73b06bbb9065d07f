import { describePath } from "../describe-path.ts";
import { type FlowGraph, type FunctionNode, isExternal } from "../flow-graph.ts";
import { reachable } from "../graph-search.ts";
import { THREAT_CLASSES, type Threat } from "../threat.ts";

/**
 * Privilege escalation through events: function A may emit a type that function B consumes, and B
 * holds secrets, egress or kv write grants A does not, so whoever controls A can make B use them.
 * Medium when outside input reaches A, low otherwise. A B with requireVerified is out of A's reach.
 */
export function escalations(graph: FlowGraph): Threat[] {
  const external = reachable(
    graph,
    graph.sources.filter((s) => isExternal(s.trust)).map((s) => s.id),
  );
  const out: Threat[] = [];
  for (const a of graph.functions) {
    for (const type of a.spec.emit) {
      for (const id of graph.next(`t:${type}`)) {
        const b = graph.functions.find((f) => f.id === id);
        // What a function emits is never verified: a requireVerified function does not receive it.
        if (b === undefined || b === a || b.spec.requireVerified === true) continue;
        const extra = extraPrivileges(a, b);
        if (extra.length === 0) continue;
        const path = [a.id, `t:${type}`, b.id];
        out.push({
          class: "privilege-escalation",
          stride: THREAT_CLASSES["privilege-escalation"].stride,
          severity: external.has(a.id) ? "medium" : "low",
          message: `Function "${a.spec.name}" can emit "${type}", which makes "${b.spec.name}" act with ${extra.join("; ")} that "${a.spec.name}" does not hold`,
          fix: `make sure "${b.spec.name}" checks what it does with "${type}" (a filter:, a strict schema), or give it only what such events need`,
          path,
          evidence: describePath(graph, path),
        });
      }
    }
  }
  return out;
}

function extraPrivileges(a: FunctionNode, b: FunctionNode): string[] {
  const minus = (x: readonly string[], y: readonly string[]) => x.filter((v) => !y.includes(v));
  const secrets = minus(b.privileges.secrets, a.privileges.secrets);
  const egress = minus(b.privileges.egress, a.privileges.egress);
  const kv = minus(b.privileges.kvWrite, a.privileges.kvWrite);
  return [
    secrets.length > 0 ? `secrets ${secrets.join(", ")}` : "",
    egress.length > 0 ? `egress ${egress.join(", ")}` : "",
    kv.length > 0 ? `kv write ${kv.join(", ")}` : "",
  ].filter((x) => x !== "");
}
