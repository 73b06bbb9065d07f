import { Ajv, type ErrorObject } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule, { type FormatsPlugin } from "ajv-formats";
import { addIdnFormats } from "./idn-formats.ts";

// ajv-formats is CommonJS: under Node's ESM interop the default import is module.exports, which is
// the plugin itself at run time while its typings describe the module object.
const addFormats = addFormatsModule as unknown as FormatsPlugin;

/** One failing field: where (RFC 6901 JSON Pointer into the validated value) and why. */
export interface FieldError {
  pointer: string;
  message: string;
}

/** A compiled validator: returns the failing fields, empty when the value is valid. */
export type Validate = (value: unknown) => FieldError[];

/**
 * Creates an ajv instance for JSON Schema draft 2020-12 with formats. `allErrors` reports every
 * failing field at once; strict mode refuses schemas with unknown keywords (a typo is not ignored),
 * except annotations named `x-*` (OpenAPI's extension convention), which validate nothing.
 */
export function createAjv(options: { verbose?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020(ajvOptions(options));
  addFormats(ajv);
  addIdnFormats(ajv);
  settings.set(ajv, options);
  return ajv;
}

// verbose: errors carry their parent schema, which lets callers word messages from it.
function ajvOptions(options: { verbose?: boolean }) {
  // strictTuples off: a tuple open at its end (prefixItems, or draft-07 array items, without
  // minItems and items: false) is valid JSON Schema, and ajv's check of it is a lint, not a typo.
  return {
    allErrors: true,
    strict: true,
    strictTuples: false,
    allowUnionTypes: true,
    verbose: options.verbose ?? false,
  };
}

const settings = new WeakMap<Ajv2020, { verbose?: boolean }>();
const drafts07 = new WeakMap<Ajv2020, Ajv>();
// The meta-schema URIs of the two dialects, as their specifications spell them (the trailing "#" is
// optional in both; ajv knows them by these names and no others).
const DRAFT_2020_12 = /^https:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;
const DRAFT_07 = /^http:\/\/json-schema\.org\/draft-07\/schema#?$/;
// ajv's rule for keyword names (a name it refuses is left to strict mode, which reports it).
const KEYWORD_NAME = /^[a-z_$][a-z0-9_$:-]*$/i;

/**
 * Compiles a schema once; throws a message naming the fix if the schema itself is invalid. A schema
 * whose `$schema` is draft-07's is compiled as draft-07 (its `definitions`, array-form `items`,
 * `additionalItems`, `dependencies`); one with 2020-12's, or none, as 2020-12; any other is refused.
 */
export function compileSchema(ajv: Ajv2020, schema: object): Validate {
  const dialect = dialectOf(schema);
  const target = dialect === "draft-07" ? draft07Of(ajv) : ajv;
  allowAnnotations(target, schema);
  let check: ReturnType<Ajv2020["compile"]>;
  try {
    check = target.compile(schema);
  } catch (err) {
    throw explain(err, target, dialect);
  }
  return (value) => (check(value) ? [] : (check.errors ?? []).map(toFieldError));
}

function dialectOf(schema: object): "2020-12" | "draft-07" {
  const uri = (schema as { $schema?: unknown }).$schema;
  if (uri === undefined || (typeof uri === "string" && DRAFT_2020_12.test(uri))) return "2020-12";
  if (typeof uri === "string" && DRAFT_07.test(uri)) return "draft-07";
  throw new Error(
    `"$schema" ${JSON.stringify(uri)} is not a dialect Palisade validates; use "https://json-schema.org/draft/2020-12/schema" or "http://json-schema.org/draft-07/schema#" (or leave "$schema" out for 2020-12)`,
  );
}

// ajv's messages say what is wrong; these also say what to do, for the mistakes authors make most.
function explain(err: unknown, ajv: Ajv | Ajv2020, dialect: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const keyword = /^strict mode: unknown keyword: "([^"]*)"/.exec(message);
  if (keyword !== null)
    return new Error(
      `unknown keyword "${keyword[1]}" for JSON Schema ${dialect} (a typo, or a keyword of another draft?); an annotation of your own must be named "x-…"`,
      { cause: err },
    );
  const format = /^unknown format "([^"]*)" ignored in schema at path "([^"]*)"/.exec(message);
  if (format !== null)
    return new Error(
      `unknown format "${format[1]}" at "${format[2]}"; known formats are ${Object.keys(ajv.formats).sort().join(", ")}`,
      { cause: err },
    );
  // With allErrors ajv lists one meta-schema failure once per alternative it tried; once is enough.
  const invalid = /^schema is invalid: (.*)$/s.exec(message);
  if (invalid !== null)
    return new Error(
      `not valid JSON Schema ${dialect}: ${[...new Set((invalid[1] as string).split(", "))].join(", ")}`,
      { cause: err },
    );
  return err instanceof Error ? err : new Error(message);
}

// One draft-07 instance beside each 2020-12 one, with the same options and formats.
function draft07Of(ajv: Ajv2020): Ajv {
  let draft = drafts07.get(ajv);
  if (draft === undefined) {
    draft = new Ajv(ajvOptions(settings.get(ajv) ?? {}));
    addFormats(draft);
    addIdnFormats(draft);
    drafts07.set(ajv, draft);
  }
  return draft;
}

// Every `x-*` key in the schema becomes a keyword that annotates and checks nothing; any other
// unknown keyword is still refused by strict mode. Keys below `properties` and in values such as
// `default` are walked too: registering a name that is no keyword there is harmless.
function allowAnnotations(ajv: Ajv | Ajv2020, node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) allowAnnotations(ajv, item);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-") && KEYWORD_NAME.test(key) && !ajv.getKeyword(key))
      ajv.addKeyword({ keyword: key });
    allowAnnotations(ajv, value);
  }
}

function toFieldError(e: ErrorObject): FieldError {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "required") {
    return {
      pointer: `${e.instancePath}/${escapePointerToken(String(params.missingProperty))}`,
      message: "is required",
    };
  }
  if (e.keyword === "additionalProperties") {
    const name = String(params.additionalProperty);
    return {
      pointer: `${e.instancePath}/${escapePointerToken(name)}`,
      message: "is not an allowed property",
    };
  }
  return { pointer: e.instancePath === "" ? "" : e.instancePath, message: e.message ?? e.keyword };
}

// RFC 6901 §3: "~" becomes "~0" and "/" becomes "~1" inside a reference token.
function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}
