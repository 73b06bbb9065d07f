import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCompatibility } from "./index.ts";

const v1 = {
  type: "object",
  required: ["orderId", "amount"],
  additionalProperties: false,
  properties: {
    orderId: { type: "string", maxLength: 64 },
    amount: { type: "number", minimum: 0 },
    status: { enum: ["new", "paid"] },
  },
};

test("changes that accept at least as much are compatible", () => {
  const compatible = [
    v1,
    { ...v1, title: "order", description: "an order" },
    { ...v1, required: ["orderId"] },
    { ...v1, additionalProperties: true },
    { ...v1, properties: { ...v1.properties, note: { type: "string" } } },
    { ...v1, properties: { ...v1.properties, orderId: { type: "string", maxLength: 128 } } },
    { ...v1, properties: { ...v1.properties, amount: { type: ["number", "string"], minimum: 0 } } },
    { ...v1, properties: { ...v1.properties, status: { enum: ["new", "paid", "refunded"] } } },
    { ...v1, properties: { ...v1.properties, amount: { type: "number" } } },
  ];
  for (const next of compatible) assert.deepEqual(checkCompatibility(v1, next), [], JSON.stringify(next));
});

test("changes that would reject events the old version accepted are reported with their location", () => {
  const cases: [object, string][] = [
    [{ ...v1, required: ["orderId", "amount", "email"] }, "/email: newly required"],
    [
      { ...v1, properties: { ...v1.properties, orderId: { type: "string", maxLength: 32 } } },
      "/orderId: maxLength lowered to 32",
    ],
    [
      { ...v1, properties: { ...v1.properties, amount: { type: "integer", minimum: 0 } } },
      "/amount: type narrowed from number to integer",
    ],
    [
      { ...v1, properties: { ...v1.properties, amount: { type: "number", minimum: 1 } } },
      "/amount: minimum raised to 1",
    ],
    [
      { ...v1, properties: { ...v1.properties, status: { enum: ["new"] } } },
      '/status: enum no longer allows "paid"',
    ],
    [
      { ...v1, properties: { ...v1.properties, orderId: { type: "string", maxLength: 64, pattern: "^o-" } } },
      "/orderId: pattern added or changed",
    ],
    [
      { ...v1, properties: { orderId: v1.properties.orderId, amount: v1.properties.amount } },
      "/status: now rejects everything",
    ],
    [
      { ...v1, properties: { ...v1.properties, amount: { anyOf: [{ type: "number" }] } } },
      '/amount: "anyOf" changed and cannot be proven compatible',
    ],
  ];
  for (const [next, reason] of cases)
    assert.ok(
      checkCompatibility(v1, next).includes(reason),
      `${reason} in ${JSON.stringify(checkCompatibility(v1, next))}`,
    );
  const open = { type: "object" };
  assert.deepEqual(checkCompatibility(open, { type: "object", additionalProperties: false }), [
    "/*: now rejects everything",
  ]);
  assert.deepEqual(checkCompatibility(open, { type: "object", properties: { x: { type: "string" } } }), [
    "/x: type narrowed from any to string",
  ]);
});
