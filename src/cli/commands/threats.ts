import { resolve } from "node:path";
import { findThreats, formatThreatsText, renderDot, renderMermaid, threatsJson } from "../../guard/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";

/**
 * `palisade threats [dir] [--format text|json|mermaid|dot]`: the app's event-flow graph and the
 * threats it shows, each with its STRIDE class and path. Mermaid and DOT draw the graph with the
 * threats highlighted. Exit 1 when a high-severity threat exists.
 */
export function runThreats(dir: string, opts: { format: "text" | "json" | "mermaid" | "dot" }): number {
  const model = findThreats(loadApp(resolve(dir)));
  const render = {
    text: () => formatThreatsText(model),
    json: () => `${JSON.stringify(threatsJson(model), null, 2)}\n`,
    mermaid: () => renderMermaid(model),
    dot: () => renderDot(model),
  }[opts.format];
  process.stdout.write(render());
  return model.threats.some((t) => t.severity === "high") ? EXIT_FAILURE : EXIT_OK;
}
