import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const TSC = join(ROOT, "node_modules/.bin/tsc");

/**
 * A producer project as `npm install` leaves it: Palisade linked into node_modules, @types/node
 * linked from this repository, the app's generated `palisade-env.d.ts` beside the code.
 */
function producerProject(t: TestContext): { dir: string; specifier: string } {
  const dir = mkdtempSync(join(tmpdir(), "palisade-client-types-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, object | string> = {
    "package.json": { name: "producer", private: true, type: "module" },
    "tsconfig.json": {
      compilerOptions: {
        target: "es2024",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2024"],
        types: ["node"],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        allowImportingTsExtensions: true,
        noEmit: true,
      },
      include: ["*.ts"],
    },
    // What `palisade types` generates for an app with these two event types.
    "palisade-env.d.ts": `export interface PalisadeEvents {
  "order.placed": OrderPlaced;
  "order.cancelled": { orderId: string };
}
export interface OrderPlaced {
  orderId: string;
  amount: number;
  email?: string;
}
declare module "palisade" {
  interface EventMap extends PalisadeEvents {}
}
`,
  };
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  mkdirSync(join(dir, "node_modules/@types"), { recursive: true });
  symlinkSync(ROOT, join(dir, "node_modules/palisade"), "dir");
  symlinkSync(join(ROOT, "node_modules/@types/node"), join(dir, "node_modules/@types/node"), "dir");
  // As an app imports it: through the package's export.
  return { dir, specifier: "palisade/client" };
}

function tsc(dir: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [TSC, "-p", dir], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test("send and sendBatch type data by the app's generated EventMap; other types take any data", (t) => {
  const { dir, specifier } = producerProject(t);
  const file = join(dir, "producer.ts");
  const good = `import { createClient } from "${specifier}";
const client = createClient({ url: "https://palisade.example", apiKey: "k" });
export async function produce(): Promise<string[]> {
  const one = await client.send({ type: "order.placed", data: { orderId: "o-1", amount: 12 } });
  await client.send({ type: "not.declared", data: [1, "two"] });
  await client.sendBatch([
    { type: "order.placed", data: { orderId: "o-2", amount: 1, email: "a@example.com" } },
    { type: "order.cancelled", data: { orderId: "o-2" } },
  ]);
  const many = ["a", "b"].map((orderId) => ({ type: "order.cancelled" as const, data: { orderId } }));
  await client.sendBatch(many);
  return one.ids;
}
`;
  writeFileSync(file, good);
  const passed = tsc(dir);
  assert.equal(passed.code, 0, passed.out);

  const wrong = good
    .replace("amount: 12 }", 'amount: "12" }')
    .replace(
      '{ type: "order.cancelled", data: { orderId: "o-2" } }',
      '{ type: "order.cancelled", data: { id: "o-2" } }',
    );
  writeFileSync(file, `${wrong}await client.send({ type: "order.placed" });\n`);
  const failed = tsc(dir);
  assert.notEqual(failed.code, 0);
  assert.match(
    failed.out,
    /producer\.ts\(4,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/,
  );
  assert.match(
    failed.out,
    /producer\.ts\(8,\d+\): error TS2353: Object literal may only specify known properties, and 'id'/,
  );
  assert.match(failed.out, /producer\.ts\(14,\d+\): error TS2345:[\s\S]*Property 'data' is missing/);
  assert.equal(failed.out.match(/error TS/g)?.length, 3, failed.out);
});
