import type { Document, LineCounter } from "yaml";
import { isMap, isNode, isPair, isScalar } from "yaml";

/** A path into the manifest, such as ["functions", "charge", "on", 0]. */
export type ManifestPath = readonly (string | number)[];

/** One mistake in a manifest: where it is and what to do about it. */
export interface Problem {
  path: ManifestPath;
  message: string;
  /** 1-based line, when the YAML source locates it. */
  line?: number;
}

/** Formats a path as a user reads it: `functions.charge.on[0]`, `events["order.created"].schema`. */
export function formatPath(path: ManifestPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Formats a problem as `palisade.yaml:12: functions.charge.on[0]: message`. */
export function formatProblem(file: string, problem: Problem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}`;
  return problem.path.length === 0
    ? `${where}: ${problem.message}`
    : `${where}: ${formatPath(problem.path)}: ${problem.message}`;
}

/**
 * Finds the source line of `path` in a parsed YAML document: the key's line for a map entry, the
 * item's line for a sequence entry, or the nearest existing ancestor's line when the path is missing.
 */
export function locate(doc: Document, lines: LineCounter, path: ManifestPath): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = isNode(node) ? node.range?.[0] : undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment);
      if (pair === undefined) break;
      offset = isNode(pair.key) ? pair.key.range?.[0] : offset;
      node = pair.value;
    } else if (isNode(node) && "items" in node && typeof segment === "number") {
      const item = (node.items as unknown[])[segment];
      if (!isNode(item)) break;
      offset = item.range?.[0];
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}
