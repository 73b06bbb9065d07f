import { join, resolve } from "node:path";
import { TRACES_FILE } from "../../app-files.ts";
import { loadApp } from "../../manifest/index.ts";
import { readNatsTraces, readTraces, type StoredSpan } from "../../observe/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, openNatsTarget } from "../nats-target.ts";

/**
 * `palisade traces [--id T] [--json] [--nats <url>]`: the recent traces a running or past
 * `dev`/`start` recorded in `.palisade/traces.db`, or with `--nats` every node of the deployment in
 * its traces stream — one line per trace, or with --id one trace as an indented span tree.
 */
export async function runTraces(
  opts: { app: string; id?: string; json?: boolean; limit: number } & OperatorNatsFlags,
): Promise<number> {
  const options = { ...(opts.id === undefined ? {} : { traceId: opts.id }), traces: opts.limit };
  const dir = resolve(opts.app);
  // Without --nats (or PALISADE_NATS_URL, which commander puts there) no manifest is needed.
  const target = opts.nats === undefined ? undefined : await openNatsTarget(loadApp(dir), opts);
  let spans: StoredSpan[];
  try {
    spans =
      target === undefined
        ? readTraces(join(dir, ".palisade", TRACES_FILE), options)
        : await readNatsTraces(await target.openTraces(), options);
  } finally {
    await target?.close();
  }
  return printSpans(
    spans,
    opts,
    target === undefined ? "20,000 spans are" : "16 MiB of spans, at most a day old, are",
  );
}

/** Prints spans: one trace as a tree (`--id`), else one line per trace (or JSON); exit 1 for a missing trace. */
export function printSpans(
  spans: readonly StoredSpan[],
  opts: { id?: string; json?: boolean },
  kept: string,
): number {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(spans)}\n`);
    return EXIT_OK;
  }
  if (opts.id !== undefined) {
    if (spans.length === 0) {
      process.stderr.write(`palisade: no spans of trace ${opts.id} (only the newest ${kept} kept)\n`);
      return EXIT_FAILURE;
    }
    printTree(spans);
    return EXIT_OK;
  }
  const byTrace = new Map<string, StoredSpan[]>();
  for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
  for (const [id, list] of byTrace) {
    const first = list[0];
    const end = Math.max(...list.map((s) => s.start + s.durationMs));
    const errors = list.filter((s) => s.error !== null).length;
    process.stdout.write(
      `${id}  ${new Date(first?.start ?? 0).toISOString()}  ${first?.name}  ${list.length} spans  ${(end - (first?.start ?? 0)).toFixed(1)} ms${errors > 0 ? `  ${errors} failed` : ""}\n`,
    );
  }
  return EXIT_OK;
}

function printTree(spans: readonly StoredSpan[]): void {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, StoredSpan[]>();
  for (const s of spans) {
    const parent = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const t0 = spans[0]?.start ?? 0;
  const walk = (parent: string | null, depth: number) => {
    for (const s of children.get(parent) ?? []) {
      const fn = s.attributes["palisade.function"];
      process.stdout.write(
        `${"  ".repeat(depth)}${s.name}${fn ? ` [${fn}]` : ""}${s.node ? ` (${s.node})` : ""}  +${(s.start - t0).toFixed(1)} ms  ${s.durationMs.toFixed(2)} ms${s.error ? `  ERROR ${s.error}` : ""}\n`,
      );
      walk(s.spanId, depth + 1);
    }
  };
  walk(null, 0);
}
