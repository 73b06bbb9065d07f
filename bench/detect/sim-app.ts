/**
 * The simulated app's manifest, loaded by the platform's own loader: the emit graph the lineage
 * detector's budgets come from is the one `palisade.yaml` would give (worstCaseAmplification).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AppModel, loadApp } from "../../src/manifest/index.ts";

/** One function of the simulated app: its manifest entry and how fast it runs. */
export interface ChainFunction {
  readonly name: string;
  readonly on: readonly string[];
  readonly emit: readonly string[];
  readonly emitsPerInvocation: number;
  /** `recursion.maxDepth`, for a function on a cycle that declares it. */
  readonly maxDepth?: number;
  readonly concurrency: number;
  /** Simulated duration of one invocation. */
  readonly durationMs: number;
}

/** Writes the app (JSON is YAML), loads it with `loadApp` and removes the files again. */
export function loadSimApp(name: string, functions: readonly ChainFunction[]): AppModel {
  const dir = mkdtempSync(join(tmpdir(), "palisade-bench-detect-"));
  try {
    mkdirSync(join(dir, "schemas"));
    mkdirSync(join(dir, "functions"));
    const types = new Set(functions.flatMap((f) => [...f.on, ...f.emit]));
    const events: Record<string, { schema: string }> = {};
    for (const t of types) {
      writeFileSync(join(dir, "schemas", `${t}.json`), JSON.stringify({ type: "object" }));
      events[t] = { schema: `schemas/${t}.json` };
    }
    const fns: Record<string, object> = {};
    for (const f of functions) {
      writeFileSync(join(dir, "functions", `${f.name}.ts`), "export default async () => {};\n");
      fns[f.name] = {
        handler: `functions/${f.name}.ts`,
        on: f.on,
        emit: f.emit,
        limits: { concurrency: f.concurrency, emitsPerInvocation: f.emitsPerInvocation },
        ...(f.maxDepth === undefined ? {} : { recursion: { maxDepth: f.maxDepth } }),
      };
    }
    writeFileSync(join(dir, "palisade.yaml"), JSON.stringify({ name, events, functions: fns }, null, 2));
    return loadApp(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
