import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormatsModule, { type FormatsPlugin } from "ajv-formats";

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
 * failing field at once; strict mode refuses schemas with unknown keywords (a typo is not ignored).
 */
export function createAjv(options: { verbose?: boolean } = {}): Ajv2020 {
  // verbose: errors carry their parent schema, which lets callers word messages from it.
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    allowUnionTypes: true,
    verbose: options.verbose ?? false,
  });
  addFormats(ajv);
  return ajv;
}

/** Compiles a schema once; throws ajv's message if the schema itself is invalid. */
export function compileSchema(ajv: Ajv2020, schema: object): Validate {
  const check = ajv.compile(schema);
  return (value) => (check(value) ? [] : (check.errors ?? []).map(toFieldError));
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
