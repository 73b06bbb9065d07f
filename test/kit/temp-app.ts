import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { openAppSecrets } from "../../src/main.ts";

/** Writes `files` (path → content; objects become JSON) into a fresh temp dir removed after the test. */
export function tempApp(t: TestContext, files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string | object>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
}

/** A JSON Schema for `{ n: number }` events, used by most test apps. */
export const NUMBER_SCHEMA = {
  type: "object",
  required: ["n"],
  additionalProperties: false,
  properties: { n: { type: "number", minimum: 0 } },
};

/** Manifest lines declaring a `tester` principal (key TEST_KEY) that may publish `publish`. */
export function testPrincipal(publish: string[], rateLimit = ""): string {
  return `principals:\n  tester:\n    apiKey: { secret: TEST_KEY }\n    publish: [${publish.join(", ")}]\n${rateLimit ? `    rateLimit: ${rateLimit}\n` : ""}`;
}

/** Stores `value` as secret `name` in the app's secret store, as `palisade secrets set` would. */
export function setSecret(dir: string, name: string, value: string): void {
  openAppSecrets(dir).set(name, value);
}
