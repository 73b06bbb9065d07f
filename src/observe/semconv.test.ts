import assert from "node:assert/strict";
import { test } from "node:test";
import * as incubating from "@opentelemetry/semantic-conventions/incubating";
import * as copied from "./semconv.ts";

test("the copied incubating semantic conventions match the installed package", () => {
  const installed = incubating as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(copied)) assert.equal(value, installed[name], name);
});
