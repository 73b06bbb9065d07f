export { checkCompatibility } from "./check-compatibility.ts";
export { compileSchema, createAjv, type FieldError, type Validate } from "./compile-schema.ts";
export { SCHEMA_BAD_SCHEMA, SCHEMA_BREAKING, SCHEMA_INVALID_DATA, SCHEMA_UNKNOWN_TYPE } from "./errors.ts";
export { createSchemaRegistry, type SchemaRegistry } from "./schema-registry.ts";
export { openSchemaStore, registerSchemas, type SchemaStore, type SchemaVersion } from "./schema-store.ts";
