import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toPalisadeError } from "../../errors.ts";
import { matchesTypePattern, PLATFORM_EVENT_TYPES } from "../../events/index.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import type { Logger } from "../../observe/index.ts";
import { type FunctionEvents, generateTypes, TYPES_FILE, type TypesInput } from "../../schema/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";

export interface TypesOptions {
  /** Print `{ file, types, functions, changed }` (or `upToDate` with `check`) as JSON. */
  json?: boolean;
  /** Write nothing; exit 1 when the file on disk differs from what would be generated. */
  check?: boolean;
}

/** What `writeTypes` did: the file, the event types and functions it describes, whether it changed. */
export interface TypesResult {
  file: string;
  types: string[];
  functions: string[];
  changed: boolean;
}

/**
 * `palisade types [dir]`: writes `palisade-env.d.ts` (the data type of every event type, from its
 * schema, and each function's subscribed and emitted types) so `defineFunction` handlers are typed;
 * with `check`, only compares (for CI).
 */
export async function runTypes(dir: string, opts: TypesOptions = {}): Promise<number> {
  const app = loadApp(resolve(dir));
  if (opts.check) {
    const r = await compareTypes(app);
    if (opts.json) print({ file: r.file, types: r.types, functions: r.functions, upToDate: !r.changed });
    else if (r.changed)
      process.stderr.write(
        `palisade: ${r.file} ${existsSync(r.file) ? "is out of date with palisade.yaml and the event schemas" : "does not exist"}; run: palisade types ${dir}\n`,
      );
    else process.stdout.write(`${r.file} is up to date\n`);
    return r.changed ? EXIT_FAILURE : EXIT_OK;
  }
  const r = await writeTypes(app);
  if (opts.json) print(r);
  else
    process.stdout.write(
      `${r.changed ? "Wrote" : "Up to date:"} ${r.file} (${count(r.types.length, "event type")}, ${count(r.functions.length, "function")})\n`,
    );
  return EXIT_OK;
}

/** Generates the app's types and writes them to `palisade-env.d.ts` unless it already holds them. */
export async function writeTypes(app: AppModel): Promise<TypesResult> {
  const r = await compareTypes(app);
  if (r.changed) writeAtomic(r.file, r.text);
  return { file: r.file, types: r.types, functions: r.functions, changed: r.changed };
}

/**
 * For `palisade dev` after a reload: regenerates `palisade-env.d.ts` of an app that has one (an app
 * without it has not asked for types). Never throws: a failure is logged and the app keeps running.
 */
export async function refreshTypes(app: AppModel, logger: Logger): Promise<void> {
  if (!existsSync(join(app.dir, TYPES_FILE))) return;
  try {
    const r = await writeTypes(app);
    if (r.changed) logger.info({ file: r.file }, `regenerated ${TYPES_FILE}`);
  } catch (err) {
    const e = toPalisadeError(err);
    logger.warn({ code: e.code }, `could not regenerate ${TYPES_FILE}: ${e.message}`);
  }
}

/**
 * What the generator is given for `app`: each declared type's schema as the platform loads it, and
 * the platform's own types (`palisade.security.*`) that a function subscribes to; every `on` and
 * `emit` pattern expanded to the types it matches.
 */
export function typesInput(app: AppModel): TypesInput {
  const known = new Map<string, object>([...app.events].map(([type, spec]) => [type, spec.schema]));
  const platform = [...PLATFORM_EVENT_TYPES.keys()];
  const expand = (patterns: readonly string[], among: readonly string[]) =>
    among.filter((type) => patterns.some((p) => matchesTypePattern(p, type)));
  const functions = new Map<string, FunctionEvents>();
  const events = new Map(known);
  for (const fn of app.functions.values()) {
    const on = expand(fn.on, [...known.keys(), ...platform]);
    for (const type of on) if (!events.has(type)) events.set(type, PLATFORM_EVENT_TYPES.get(type) as object);
    functions.set(fn.name, { on, emit: expand(fn.emit, [...known.keys()]) });
  }
  return { events, functions };
}

async function compareTypes(app: AppModel): Promise<TypesResult & { text: string }> {
  const input = typesInput(app);
  const text = await generateTypes(input);
  const file = join(app.dir, TYPES_FILE);
  const changed = !existsSync(file) || readFileSync(file, "utf8") !== text;
  return {
    file,
    text,
    changed,
    types: [...input.events.keys()].sort(),
    functions: [...input.functions.keys()].sort(),
  };
}

// An editor or a watcher never sees half a file.
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
