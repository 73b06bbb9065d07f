import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { test } from "node:test";
import { runnerFile } from "./runner-file.ts";

test("the runner is written once as JavaScript only the host can change, and again if removed", () => {
  const file = runnerFile();
  assert.match(file, /runner\.mjs$/);
  assert.equal(runnerFile(), file, "written once per host process");
  assert.equal(statSync(file).mode & 0o777, 0o400);
  assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
  const code = readFileSync(file, "utf8");
  assert.doesNotMatch(code, /^import type /m, "types are stripped");
  assert.match(code, /sourceMappingURL=data:application\/json/, "stack traces map to runner.ts");
  rmSync(dirname(file), { recursive: true, force: true });
  const again = runnerFile();
  assert.notEqual(again, file);
  assert.ok(statSync(again).isFile());
});
