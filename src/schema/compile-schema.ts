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
const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;

/**
 * Compiles a schema once; throws ajv's message if the schema itself is invalid. A schema whose
 * `$schema` names draft-07 is compiled as draft-07 (its `definitions`, array-form `items`,
 * `dependencies`); any other, or none, as 2020-12.
 */
export function compileSchema(ajv: Ajv2020, schema: object): Validate {
  const dialect = (schema as { $schema?: unknown }).$schema;
  const target = typeof dialect === "string" && DRAFT_07.test(dialect) ? draft07Of(ajv) : ajv;
  allowAnnotations(target, schema);
  const check = target.compile(schema);
  return (value) => (check(value) ? [] : (check.errors ?? []).map(toFieldError));
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
// unknown keyword is still refused by strict mode.
function allowAnnotations(ajv: Ajv | Ajv2020, node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) allowAnnotations(ajv, item);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-") && !ajv.getKeyword(key)) ajv.addKeyword({ keyword: key });
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
