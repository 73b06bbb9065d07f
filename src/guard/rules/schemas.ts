import type { CheckContext } from "../check-context.ts";
import type { Hit } from "../finding.ts";
import { lintSchema, type SchemaIssue, type SchemaIssueKind } from "../schema-lint.ts";

const SAY: Record<SchemaIssueKind, { what: string; fix: string }> = {
  string: {
    what: "is a string without maxLength",
    fix: 'add "maxLength" (the longest value you expect), or an enum',
  },
  array: { what: "is an array without maxItems", fix: 'add "maxItems" (the most items you expect)' },
  object: {
    what: "is an object that accepts properties it does not list",
    fix: 'add "additionalProperties": false (list every property you accept)',
  },
  required: {
    what: "is an object that requires none of its properties",
    fix: 'add "required" with the fields handlers rely on',
  },
  any: { what: "accepts any JSON value", fix: 'give it a "type" (and bounds), an enum or a const' },
};

/** PAL030–PAL034: event schemas that accept unbounded input, one rule per kind of looseness. */
export const SCHEMA_RULES = {
  PAL030: (ctx: CheckContext) => schemaHits(ctx, "string"),
  PAL031: (ctx: CheckContext) => schemaHits(ctx, "array"),
  PAL032: (ctx: CheckContext) => schemaHits(ctx, "object"),
  PAL033: (ctx: CheckContext) => schemaHits(ctx, "required"),
  PAL034: (ctx: CheckContext) => schemaHits(ctx, "any"),
};

function schemaHits(ctx: CheckContext, kind: SchemaIssueKind): Hit[] {
  return [...ctx.app.events.values()].flatMap((event) =>
    lintSchema(event.schema)
      .filter((issue) => issue.kind === kind)
      .map((issue) => ({
        message: `The schema of "${event.type}": ${where(issue)} ${SAY[kind].what}`,
        fix: SAY[kind].fix,
        location: ctx.inFile(event.schemaPath, issue.at),
      })),
  );
}

function where(issue: SchemaIssue): string {
  if (issue.at.length === 0) return "the event data";
  const last = issue.at.at(-1);
  const parent = issue.at.at(-2);
  return parent === "properties" ? `field "${String(last)}"` : `/${issue.at.join("/")}`;
}
