import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { tempApp } from "../../test/kit/temp-app.ts";
import { scanSecretReads } from "./scan-secret-reads.ts";

test("literal reads are named with their line; comments and strings that only mention a call are not reads", (t) => {
  const dir = tempApp(t, {
    "functions/f.ts": [
      "export default async (e, ctx) => {",
      '  const a = await ctx.secrets.get("API_KEY");',
      '  // ctx.secrets.get("IN_A_COMMENT")',
      "  /* ctx.secrets.get('IN_A_BLOCK') */",
      "  const { secrets } = ctx;",
      "  const b = await secrets.get('OTHER', { fresh: true });",
      "  const c = await ctx.secrets?.get(`TEMPLATE`);",
      "};",
    ].join("\n"),
  });
  const reads = scanSecretReads(join(dir, "functions/f.ts"), dir);
  assert.deepEqual(
    reads.map((r) => [r.name, r.line]),
    [
      ["API_KEY", 2],
      ["OTHER", 6],
      ["TEMPLATE", 7],
    ],
  );
});

test("a read whose name is not a literal is reported without a name", (t) => {
  const dir = tempApp(t, {
    "f.ts":
      'const n = "X";\nexport default (e, ctx) => ctx.secrets.get(n);\nconst t = (ctx, k) => ctx.secrets.get(`K_$' +
      "{k}`);\n",
  });
  const reads = scanSecretReads(join(dir, "f.ts"), dir);
  assert.deepEqual(
    reads.map((r) => [r.name, r.line]),
    [
      [undefined, 2],
      [undefined, 3],
    ],
  );
});

test("modules imported by relative path inside the app are scanned too, nothing outside it", (t) => {
  const root = tempApp(t, {
    "outside.ts": 'export const x = (ctx) => ctx.secrets.get("OUTSIDE");\n',
    "app/functions/f.ts":
      'import { helper } from "../lib/helper.js";\nimport "../../outside.ts";\nexport default helper;\n',
    "app/lib/helper.ts": 'export const helper = async (e, ctx) => ctx.secrets.get("FROM_HELPER");\n',
  });
  const dir = join(root, "app");
  const reads = scanSecretReads(join(dir, "functions/f.ts"), dir);
  assert.deepEqual(
    reads.map((r) => [r.name, r.file.slice(dir.length)]),
    [["FROM_HELPER", "/lib/helper.ts"]],
  );
});
