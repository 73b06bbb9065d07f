import { PalisadeError } from "../errors.ts";
import { compileSchema, createAjv, type FieldError, type Validate } from "./compile-schema.ts";
import { SCHEMA_INVALID_DATA, SCHEMA_UNKNOWN_TYPE } from "./errors.ts";

/** The registered event types and their validators, each compiled once at start. */
export interface SchemaRegistry {
  has(type: string): boolean;
  types(): string[];
  /** The registered version of `type`'s schema that events are validated against. */
  version(type: string): number;
  /** Returns the failing fields of `data` for `type` (empty when valid). */
  check(type: string, data: unknown): FieldError[];
  /**
   * Throws a 400 PalisadeError naming each failing field when `data` is not valid for `type`;
   * pointers are relative to the event envelope at `at` (`/3` for the fourth event of a batch).
   */
  assertValid(type: string, data: unknown, at?: string): void;
}

/** Creates a registry from event type name to JSON Schema (draft 2020-12) and its version. */
export function createSchemaRegistry(
  schemas: ReadonlyMap<string, object>,
  versions: ReadonlyMap<string, number> = new Map(),
): SchemaRegistry {
  const ajv = createAjv();
  const validators = new Map<string, Validate>();
  for (const [type, schema] of schemas) validators.set(type, compileSchema(ajv, schema));

  function validatorFor(type: string, at = ""): Validate {
    const validate = validators.get(type);
    if (validate === undefined) {
      throw new PalisadeError(
        SCHEMA_UNKNOWN_TYPE,
        `Unknown event type "${type}"; declared types are: ${[...validators.keys()].join(", ")}`,
        { status: 400, details: [{ pointer: `${at}/type`, message: "is not a declared event type" }] },
      );
    }
    return validate;
  }

  return {
    has: (type) => validators.has(type),
    types: () => [...validators.keys()],
    version: (type) => versions.get(type) ?? 1,
    check: (type, data) => validatorFor(type)(data),
    assertValid(type, data, at = "") {
      const failures = validatorFor(type, at)(data);
      if (failures.length === 0) return;
      // Pointers are reported relative to the envelope, so a sender sees "/data/amount".
      const details = failures.map((f) => ({ pointer: `${at}/data${f.pointer}`, message: f.message }));
      const list = details.map((d) => `${d.pointer} ${d.message}`).join("; ");
      throw new PalisadeError(SCHEMA_INVALID_DATA, `Event data does not match schema of "${type}": ${list}`, {
        status: 400,
        details,
      });
    },
  };
}
