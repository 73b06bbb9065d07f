/**
 * What makes a JSON Schema accept unbounded input, found by walking every subschema: a string
 * without `maxLength`, an array without `maxItems`, an object open to extra properties, an object
 * with properties but no `required`, and a subschema that accepts any value. A string with `enum`,
 * `const` or a bounded pattern is bounded; a `$ref` is judged where it points (`$defs` are walked too). Subschemas
 * that can only narrow what the parent accepts (`not`, `if`/`then`/`else`, `contains`,
 * `propertyNames`, `dependentSchemas`) are not judged; `allOf`, `anyOf` and `oneOf` members are.
 */
export type SchemaIssueKind = "string" | "array" | "object" | "required" | "any";

export interface SchemaIssue {
  readonly kind: SchemaIssueKind;
  /** Where in the schema, as path segments (`["properties", "email"]`). */
  readonly at: readonly (string | number)[];
}

type Json = Record<string, unknown>;
type At = readonly (string | number)[];

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const COMBINATORS = ["allOf", "anyOf", "oneOf"] as const;
const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "definitions"] as const;

/** Every place `schema` accepts unbounded input; none for a strict schema. */
export function lintSchema(schema: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  visit(schema, [], issues);
  return issues;
}

function visit(schema: unknown, at: At, out: SchemaIssue[]): void {
  if (schema === true || (isObject(schema) && Object.keys(schema).every(isAnnotation))) {
    out.push({ kind: "any", at });
    return;
  }
  if (!isObject(schema)) return;
  walkChildren(schema, at, out);
  if ("enum" in schema || "const" in schema || "$ref" in schema || "$dynamicRef" in schema) return;
  const types = typesOf(schema);
  if (types === undefined) {
    if (!COMBINATORS.some((k) => k in schema)) out.push({ kind: "any", at });
    return;
  }
  if (types.includes("string") && typeof schema.maxLength !== "number" && !boundedPattern(schema.pattern))
    out.push({ kind: "string", at });
  if (types.includes("array")) checkArray(schema, at, out);
  if (types.includes("object")) checkObject(schema, at, out);
}

function checkArray(schema: Json, at: At, out: SchemaIssue[]): void {
  if (typeof schema.maxItems !== "number" && !(Array.isArray(schema.prefixItems) && schema.items === false))
    out.push({ kind: "array", at });
  if (!("items" in schema) && !("prefixItems" in schema)) out.push({ kind: "any", at: [...at, "items"] });
}

function checkObject(schema: Json, at: At, out: SchemaIssue[]): void {
  if (schema.additionalProperties !== false && schema.unevaluatedProperties !== false)
    out.push({ kind: "object", at });
  const props = isObject(schema.properties) ? Object.keys(schema.properties) : [];
  const required = Array.isArray(schema.required) ? schema.required : [];
  if (props.length > 0 && required.length === 0) out.push({ kind: "required", at });
}

function walkChildren(schema: Json, at: At, out: SchemaIssue[]): void {
  for (const key of SCHEMA_MAPS) {
    const map = schema[key];
    if (isObject(map)) for (const [name, sub] of Object.entries(map)) visit(sub, [...at, key, name], out);
  }
  for (const key of COMBINATORS) {
    const list = schema[key];
    if (Array.isArray(list)) for (const [i, sub] of list.entries()) visit(sub, [...at, key, i], out);
  }
  if (Array.isArray(schema.prefixItems))
    for (const [i, sub] of schema.prefixItems.entries()) visit(sub, [...at, "prefixItems", i], out);
  if ("items" in schema && schema.items !== false) visit(schema.items, [...at, "items"], out);
  if (isObject(schema.additionalProperties))
    visit(schema.additionalProperties, [...at, "additionalProperties"], out);
}

/**
 * A pattern anchored at both ends with no unbounded repetition (`*`, `+`, `{n,}`) bounds a string's
 * length as maxLength would: `^[A-Z]{3}$` does, `^[a-z]+$` does not.
 */
export function boundedPattern(pattern: unknown): boolean {
  if (typeof pattern !== "string" || !pattern.startsWith("^") || !/(^|[^\\])\$$/.test(pattern)) return false;
  const bare = pattern.replace(/\\./g, "x").replace(/\[(?:\\.|[^\]])*\]/g, "x");
  return !/[*+]|\{\d*,\}/.test(bare) && !bare.slice(1, -1).includes("|");
}

function typesOf(schema: Json): string[] | undefined {
  if (typeof schema.type === "string") return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === "string");
  return undefined;
}

const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "description",
  "examples",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
  "$anchor",
]);
function isAnnotation(key: string): boolean {
  return ANNOTATIONS.has(key);
}
