import { readFileSync } from "node:fs";
import type { ErrorObject } from "ajv/dist/2020.js";
import { createAjv } from "../schema/index.ts";
import type { ManifestPath, Problem } from "./problem.ts";

const MANIFEST_SCHEMA = JSON.parse(
  readFileSync(new URL("./palisade.schema.json", import.meta.url), "utf8"),
) as object;
const ajv = createAjv({ verbose: true });
const check = ajv.compile(MANIFEST_SCHEMA);

/** Checks the manifest against palisade.schema.json and turns each failure into a Problem with a fix. */
export function validateShape(raw: unknown): Problem[] {
  if (check(raw)) return [];
  const problems: Problem[] = [];
  for (const error of check.errors ?? []) {
    // propertyNames reports twice (the pattern, then the name); keep the one that names the key.
    if (error.schemaPath.includes("/propertyNames/")) continue;
    problems.push(toProblem(error, raw));
  }
  return problems;
}

function toProblem(error: ErrorObject, raw: unknown): Problem {
  const path = pointerToPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const value = valueAt(raw, path);
  switch (error.keyword) {
    case "required":
      return { path, message: `missing required field "${String(params.missingProperty)}"` };
    case "additionalProperties": {
      const allowed = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
      return {
        path: [...path, String(params.additionalProperty)],
        message: `unknown field "${String(params.additionalProperty)}"; allowed fields are: ${allowed.join(", ")}`,
      };
    }
    case "propertyNames": {
      const name = String(params.propertyName);
      const what =
        path[0] === "events"
          ? 'event type names look like "order.created" (lower-case, dot-separated)'
          : "names use lower-case letters, digits and dashes";
      return { path: [...path, name], message: `invalid name "${name}"; ${what}` };
    }
    case "type":
      return { path, message: `must be ${article(String(params.type))}, got ${describe(value)}` };
    case "enum":
      return {
        path,
        message: `must be one of: ${(params.allowedValues as unknown[]).join(", ")}; got ${describe(value)}`,
      };
    case "pattern": {
      const hint = (error.parentSchema as { description?: string }).description;
      return { path, message: `invalid value ${describe(value)}${hint === undefined ? "" : `; ${hint}`}` };
    }
    default:
      return { path, message: `${error.message ?? error.keyword}; got ${describe(value)}` };
  }
}

function pointerToPath(pointer: string): ManifestPath {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((token) => (/^\d+$/.test(token) ? Number(token) : token));
}

function valueAt(raw: unknown, path: ManifestPath): unknown {
  let node = raw;
  for (const segment of path) node = (node as Record<string | number, unknown> | undefined)?.[segment];
  return node;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value);
}

function article(type: string): string {
  const word = type === "object" ? "mapping" : type === "array" ? "list" : type;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}
