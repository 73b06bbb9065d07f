import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildFunction } from "../src/supply/index.ts";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { palisade as palisadeAsync } from "./kit/cli-run.ts";
import { copyShop, ORDER } from "./kit/shop.ts";
import { tempApp } from "./kit/temp-app.ts";

const SHOP = fileURLToPath(new URL("../examples/shop", import.meta.url));

function palisade(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A package named "palisade" in the app's node_modules whose defineFunction would replace the handler. */
function plantPalisade(app: string): void {
  const dir = join(app, "node_modules/palisade");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "palisade", version: "6.6.6", type: "module", exports: "./index.js" }),
  );
  writeFileSync(
    join(dir, "index.js"),
    `export function defineFunction() { return () => { throw new Error("planted palisade ran"); }; }\n`,
  );
}

test("the committed types of examples/shop are what `palisade types` generates (regenerate them if this fails)", () => {
  const r = palisade("types", SHOP, "--check", "--json");
  assert.equal(r.code, 0, `${r.stderr}run: npx palisade types examples/shop`);
  assert.deepEqual(JSON.parse(r.stdout), {
    file: join(SHOP, "palisade-env.d.ts"),
    types: ["order.created", "payment.charged"],
    functions: ["charge", "notify"],
    upToDate: true,
  });
  for (const fn of ["charge", "notify"])
    assert.doesNotMatch(readFileSync(join(SHOP, `functions/${fn}.ts`), "utf8"), / as /, "no casts");
});

test("types --check fails on a stale file and says how to fix it; types rewrites it", (t) => {
  const app = copyShop(t);
  const schema = join(app, "schemas/payment.charged.json");
  const parsed = JSON.parse(readFileSync(schema, "utf8"));
  parsed.properties.receipt = { type: "string", description: "Receipt number." };
  writeFileSync(schema, JSON.stringify(parsed));
  const stale = palisade("types", app, "--check");
  assert.equal(stale.code, 1);
  assert.match(
    stale.stderr,
    /palisade-env\.d\.ts is out of date with palisade\.yaml and the event schemas; run: palisade types/,
  );
  const written = palisade("types", app, "--json");
  assert.equal(written.code, 0, written.stderr);
  assert.equal(JSON.parse(written.stdout).changed, true);
  assert.match(
    readFileSync(join(app, "palisade-env.d.ts"), "utf8"),
    /\/\*\*\n {3}\* Receipt number\.\n {3}\*\/\n {2}receipt\?: string;/,
  );
  assert.equal(palisade("types", app, "--check").code, 0);
  assert.equal(JSON.parse(palisade("types", app, "--json").stdout).changed, false, "nothing to rewrite");
});

test("a bundle inlines the platform's defineFunction, never an installed package called palisade", async (t) => {
  const app = copyShop(t);
  plantPalisade(app);
  const out = tempApp(t, {});
  const built = await buildFunction({
    name: "charge",
    handlerPath: join(app, "functions/charge.ts"),
    appDir: app,
    outDir: out,
  });
  const code = readFileSync(built.bundlePath, "utf8");
  assert.match(code, /function defineFunction\(name, handler\)/);
  assert.doesNotMatch(code, /planted/);
  assert.doesNotMatch(code, /from\s*"palisade"|import\(\s*"palisade"/, "nothing left to load at run time");
  assert.doesNotMatch(code.split("//# sourceMappingURL")[0] ?? "", new RegExp(app), "no install paths");
  assert.deepEqual(built.packages, []);
});

test("dev runs defineFunction handlers in the sandbox and regenerates the types on a schema change, once", async (t) => {
  const app = copyShop(t);
  plantPalisade(app); // node_modules: ignored by dev's watcher, and by the bundler for "palisade"
  const dev = await startDev(app);
  t.after(() => stop(dev.child));
  const reloads = () => dev.lines.filter((l) => l.msg === "change detected; reloading").length;
  const running = () => dev.lines.filter((l) => l.msg === "palisade is running").length;

  const schema = join(app, "schemas/payment.charged.json");
  const parsed = JSON.parse(readFileSync(schema, "utf8"));
  parsed.properties.receipt = { type: "string" };
  writeFileSync(schema, JSON.stringify(parsed));
  const regenerated = await dev.waitFor((l) => l.msg === "regenerated palisade-env.d.ts");
  assert.equal(regenerated.file, join(app, "palisade-env.d.ts"));
  assert.match(readFileSync(join(app, "palisade-env.d.ts"), "utf8"), /receipt\?: string;/);
  await dev.waitFor(() => running() === 2);

  // The typed handlers run as before: charge emits payment.charged through its grant, notify logs it.
  const sent = await palisadeAsync(["send", "order.created", JSON.stringify(ORDER), "--app", app]);
  assert.equal(sent.status, 0, sent.stderr);
  await dev.waitFor((l) => l.fn === "charge" && l.msg === "charging order" && l.orderId === ORDER.orderId);
  await dev.waitFor((l) => l.fn === "notify" && l.msg === "payment confirmed" && l.orderId === ORDER.orderId);
  assert.ok(!dev.lines.some((l) => String(l.msg).includes("planted")));

  // Writing palisade-env.d.ts did not reload dev: the next change is only the second reload.
  const notify = join(app, "functions/notify.ts");
  writeFileSync(
    notify,
    readFileSync(notify, "utf8").replace('"payment confirmed"', '"payment confirmed v2"'),
  );
  await dev.waitFor(() => running() === 3);
  assert.equal(reloads(), 2);
  assert.equal(dev.lines.filter((l) => l.msg === "regenerated palisade-env.d.ts").length, 1);
  assert.equal(palisade("types", app, "--check").code, 0, "dev wrote what `palisade types` would");
});
