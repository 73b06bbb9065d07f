import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openSchemaStore } from "./schema-store.ts";

const STORE = fileURLToPath(new URL("./schema-store.ts", import.meta.url));

/** Registers the same schemas in a separate process; resolves to its exit code and stderr. */
function registerInProcess(file: string): Promise<{ code: number | null; stderr: string }> {
  const code = `import { openSchemaStore, registerSchemas } from ${JSON.stringify(STORE)};
const store = openSchemaStore(${JSON.stringify(file)});
registerSchemas(store, new Map([["a.b", { type: "object" }], ["c.d", { type: "string" }]]), false);
store.close();`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("exit", (c) => resolve({ code: c, stderr })));
}

test("processes starting on one app directory at once register each schema once, none refused", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-schemas-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "schemas.db");
  const results = await Promise.all(Array.from({ length: 6 }, () => registerInProcess(file)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const store = openSchemaStore(file);
  t.after(() => store.close());
  assert.equal(store.latest("a.b")?.version, 1);
  assert.equal(store.latest("c.d")?.version, 1);
});
