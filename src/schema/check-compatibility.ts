import { isDeepStrictEqual } from "node:util";

type Schema = object | boolean;

// Keywords whose tightening this checker understands; any other keyword that differs between the
// versions makes the change "not provably compatible", which is reported as breaking.
const LOWER_BOUNDS = ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"] as const;
const UPPER_BOUNDS = ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"] as const;
const EXACT = ["pattern", "format", "const", "multipleOf"] as const;
const HANDLED = new Set<string>([
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  ...EXACT,
  "type",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "enum",
  // Annotations: they never change what validates.
  "$schema",
  "$id",
  "title",
  "description",
  "examples",
  "default",
  "$comment",
  "deprecated",
  "readOnly",
  "writeOnly",
]);

/**
 * Lists the ways `next` may reject data that `prev` accepted (backward compatibility: consumers of
 * the new version still accept every event producers were allowed to send). Conservative: a change
 * it cannot prove safe is reported, never silently passed. Empty means compatible.
 */
export function checkCompatibility(prev: Schema, next: Schema, at = ""): string[] {
  if (isDeepStrictEqual(prev, next) || next === true) return [];
  const where = at === "" ? "/" : at;
  if (prev === false) return [];
  if (next === false) return [`${where}: now rejects everything`];
  const p = (prev === true ? {} : prev) as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  const out: string[] = [];

  const pTypes = types(p);
  const nTypes = types(n);
  if (
    nTypes !== undefined &&
    (pTypes === undefined ||
      pTypes.some((t) => !nTypes.includes(t) && !(t === "integer" && nTypes.includes("number"))))
  ) {
    out.push(`${where}: type narrowed from ${pTypes?.join("|") ?? "any"} to ${nTypes.join("|")}`);
  }
  const pRequired = new Set((p.required as string[] | undefined) ?? []);
  for (const name of (n.required as string[] | undefined) ?? [])
    if (!pRequired.has(name)) out.push(`${at}/${name}: newly required`);

  const pProps = (p.properties as Record<string, Schema> | undefined) ?? {};
  const nProps = (n.properties as Record<string, Schema> | undefined) ?? {};
  const pExtra = (p.additionalProperties as Schema | undefined) ?? true;
  const nExtra = (n.additionalProperties as Schema | undefined) ?? true;
  for (const [name, schema] of Object.entries(nProps)) {
    // A property new to the schema was governed by the old additionalProperties.
    out.push(...checkCompatibility(pProps[name] ?? pExtra, schema, `${at}/${name}`));
  }
  for (const [name, schema] of Object.entries(pProps)) {
    if (!(name in nProps)) out.push(...checkCompatibility(schema, nExtra, `${at}/${name}`));
  }
  if (!isDeepStrictEqual(pExtra, nExtra)) out.push(...checkCompatibility(pExtra, nExtra, `${at}/*`));
  if (n.items !== undefined)
    out.push(...checkCompatibility((p.items as Schema | undefined) ?? true, n.items as Schema, `${at}/[]`));

  for (const k of LOWER_BOUNDS)
    if (n[k] !== undefined && !(typeof p[k] === "number" && (n[k] as number) <= p[k]))
      out.push(`${where}: ${k} raised to ${n[k]}`);
  for (const k of UPPER_BOUNDS)
    if (n[k] !== undefined && !(typeof p[k] === "number" && (n[k] as number) >= p[k]))
      out.push(`${where}: ${k} lowered to ${n[k]}`);
  for (const k of EXACT)
    if (n[k] !== undefined && !isDeepStrictEqual(p[k], n[k])) out.push(`${where}: ${k} added or changed`);
  if (n.enum !== undefined) {
    const allowed = n.enum as unknown[];
    const lost = ((p.enum as unknown[] | undefined) ?? [undefined]).filter(
      (v) => !allowed.some((a) => isDeepStrictEqual(a, v)),
    );
    if (lost.length > 0)
      out.push(
        `${where}: enum no longer allows ${lost.map((v) => (v === undefined ? "values outside the list" : JSON.stringify(v))).join(", ")}`,
      );
  }
  for (const k of new Set([...Object.keys(p), ...Object.keys(n)])) {
    // `x-*` keys are annotations (compile-schema.ts): they never change what validates.
    if (!HANDLED.has(k) && !k.startsWith("x-") && !isDeepStrictEqual(p[k], n[k]))
      out.push(`${where}: "${k}" changed and cannot be proven compatible`);
  }
  return out;
}

function types(s: Record<string, unknown>): string[] | undefined {
  if (s.type === undefined) return undefined;
  return Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
}
