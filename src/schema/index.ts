export { checkCompatibility } from "./check-compatibility.ts";
export { compileSchema, createAjv, type FieldError, type Validate } from "./compile-schema.ts";
export { SCHEMA_BAD_SCHEMA, SCHEMA_BREAKING, SCHEMA_INVALID_DATA, SCHEMA_UNKNOWN_TYPE } from "./errors.ts";
export { type FunctionEvents, generateTypes, TYPES_FILE, type TypesInput } from "./generate-types.ts";
export { type RegisteredSchema, readSchemaHistory, SCHEMAS_FILE } from "./schema-history.ts";
export { createSchemaRegistry, type SchemaRegistry } from "./schema-registry.ts";
export { openSchemaStore, registerSchemas, type SchemaStore, type SchemaVersion } from "./schema-store.ts";
