import type { Command } from "commander";
import type { TypesOptions } from "./types.ts";

/**
 * Adds `palisade types [dir] [--check] [--json]`; the action imports the implementation (and, through
 * it, the schema-to-TypeScript generator) only when the command runs.
 */
export function addTypesCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command("types")
    .description(
      "generate palisade-env.d.ts: a TypeScript type for each event type's data (from its JSON Schema) and each function's events, for defineFunction",
    )
    .argument("[dir]", "app directory", ".")
    .option("--check", "write nothing; exit 1 if palisade-env.d.ts is missing or out of date (for CI)")
    .option("--json", "print { file, types, functions, changed } (with --check: upToDate) as JSON")
    .action(async (dir: string, opts: TypesOptions) => {
      const { runTypes } = await import("./types.ts");
      setExit(await runTypes(dir, opts));
    });
}
