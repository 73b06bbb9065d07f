import assert from "node:assert/strict";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import {
  APP_SOURCE_ROOT,
  STACK_MAX_BYTES,
  STACK_MAX_FRAMES,
  stackFrames,
  withStack,
} from "./failure-stack.ts";
import { runnerFile } from "./runner-file.ts";

const BUNDLE = "/var/palisade/run/charge/index.mjs";
const same = (text: string) => text;

test("mapped frames name the app's sources; no host path survives; the runner and below are dropped", () => {
  const stack = [
    "Error: card declined",
    "with a second line of message",
    `    at chargeCard (${APP_SOURCE_ROOT}functions/lib/card.ts:12:9)`,
    `    at async Module.default (${APP_SOURCE_ROOT}functions/charge.ts:5:3)`,
    `    at old (${pathToFileURL(BUNDLE).href}:1:234)`,
    "    at /tmp/palisade-scratch-x1/evil.mjs:3:4",
    "    at Array.map (<anonymous>)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:104:5)",
    `    at drain (${pathToFileURL(runnerFile()).href}:200:30)`,
    "    at Socket.emit (node:events:514:20)",
  ].join("\n");
  assert.deepEqual(stackFrames(stack, BUNDLE, same), [
    "at chargeCard (functions/lib/card.ts:12:9)",
    "at async Module.default (functions/charge.ts:5:3)",
    "at old (index.mjs:1:234)",
    "at evil.mjs:3:4",
    "at Array.map (<anonymous>)",
    "at process.processTicksAndRejections (node:internal/process/task_queues:104:5)",
  ]);
});

test("frames are redacted, stripped of control characters, and bounded in count and bytes", () => {
  const redact = (text: string) => text.split("s3cr3t-value").join("[REDACTED]");
  const frame = (name: string) => `    at ${name} (${APP_SOURCE_ROOT}functions/f.ts:1:1)`;
  const [first] = stackFrames(`E\n${frame("s3cr3t-value\u001b[2J")}`, BUNDLE, redact);
  assert.equal(first, "at [REDACTED][2J (functions/f.ts:1:1)");

  const many = Array.from({ length: 50 }, (_, i) => frame(`f${i}`)).join("\n");
  assert.equal(stackFrames(many, BUNDLE, same).length, STACK_MAX_FRAMES);
  const wide = Array.from({ length: 19 }, (_, i) => frame(`${"x".repeat(400)}${i}`)).join("\n");
  const kept = stackFrames(wide, BUNDLE, same);
  assert.ok(kept.length < 19, "cut by bytes before the frame count");
  assert.ok(Buffer.byteLength(kept.join("\n")) <= STACK_MAX_BYTES);
  assert.deepEqual(stackFrames(undefined, BUNDLE, same), [], "a thrown non-Error has no stack");
});

test("a message keeps its stack one frame a line, as Node prints it", () => {
  assert.equal(withStack("boom", []), "boom");
  assert.equal(
    withStack("boom", ["at f (a.ts:1:2)", "at g (b.ts:3:4)"]),
    "boom\n    at f (a.ts:1:2)\n    at g (b.ts:3:4)",
  );
});
