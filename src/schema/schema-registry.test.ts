import assert from "node:assert/strict";
import { test } from "node:test";
import { createSchemaRegistry } from "./index.ts";

const registry = createSchemaRegistry(
  new Map([
    [
      "order.created",
      {
        type: "object",
        required: ["amount", "items"],
        properties: {
          amount: { type: "number", exclusiveMinimum: 0 },
          email: { type: "string", format: "email" },
          items: { type: "array", items: { type: "object", properties: { "sku/id": { type: "string" } } } },
        },
      },
    ],
  ]),
);

test("every failing field is reported with its JSON Pointer under /data", () => {
  assert.throws(
    () => registry.assertValid("order.created", { amount: 0, email: "nope", items: [{ "sku/id": 5 }] }),
    (err: { code: string; status: number; details: unknown }) => {
      assert.equal(err.code, "PAL_SCHEMA_INVALID_DATA");
      assert.equal(err.status, 400);
      assert.deepEqual(err.details, [
        { pointer: "/data/amount", message: "must be > 0" },
        { pointer: "/data/email", message: 'must match format "email"' },
        { pointer: "/data/items/0/sku~1id", message: "must be string" },
      ]);
      return true;
    },
  );
});

test("a missing required field points at the field itself", () => {
  assert.deepEqual(registry.check("order.created", { items: [] }), [
    { pointer: "/amount", message: "is required" },
  ]);
});

test("an undeclared type is a 400 naming the declared types", () => {
  assert.throws(() => registry.assertValid("order.create", {}), {
    code: "PAL_SCHEMA_UNKNOWN_TYPE",
    status: 400,
    message: 'Unknown event type "order.create"; declared types are: order.created',
  });
});

test("valid data passes", () => {
  assert.doesNotThrow(() => registry.assertValid("order.created", { amount: 1, items: [] }));
});
