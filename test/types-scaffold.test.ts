import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BIN } from "./kit/cli-process.ts";
import { tempApp } from "./kit/temp-app.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const TSC = join(ROOT, "node_modules/.bin/tsc");

function run(file: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
const palisade = (...args: string[]) => run(BIN, args);
const tsc = (app: string) => run(TSC, ["-p", app]);

/**
 * `palisade init` into a temp dir, then what `npm install` of its package.json makes: the `file:`
 * dependency on Palisade as a symlink to this package root, and @types/node (a devDependency of the
 * scaffold) linked from this repository's install, since tests do not reach the registry.
 */
function initApp(t: TestContext): string {
  const app = join(tempApp(t, {}), "hello-app");
  const init = palisade("init", app);
  assert.equal(init.code, 0, init.out);
  mkdirSync(join(app, "node_modules/@types"), { recursive: true });
  symlinkSync(ROOT, join(app, "node_modules/palisade"), "dir");
  symlinkSync(join(ROOT, "node_modules/@types/node"), join(app, "node_modules/@types/node"), "dir");
  return app;
}

test("init scaffolds package.json, tsconfig.json and the generated types, and tsc passes in the app", (t) => {
  const app = initApp(t);
  const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
  assert.equal(pkg.name, "hello-app");
  assert.equal(pkg.private, true);
  assert.equal(pkg.type, "module");
  assert.equal(pkg.dependencies.palisade, `file:${ROOT}`, "Palisade from its installed copy");
  assert.ok(pkg.devDependencies.typescript && pkg.devDependencies["@types/node"]);
  const tsconfig = JSON.parse(readFileSync(join(app, "tsconfig.json"), "utf8"));
  assert.equal(tsconfig.compilerOptions.strict, true);
  assert.equal(tsconfig.compilerOptions.noEmit, true);
  assert.equal(tsconfig.compilerOptions.module, "nodenext");
  assert.match(readFileSync(join(app, ".gitignore"), "utf8"), /^node_modules\/$/m);
  assert.match(readFileSync(join(app, "functions/greet.ts"), "utf8"), /defineFunction\("greet"/);
  assert.match(
    readFileSync(join(app, "palisade-env.d.ts"), "utf8"),
    /"greeting\.requested": GreetingRequested;/,
  );
  assert.equal(palisade("types", app, "--check").code, 0, "init's types are what `palisade types` makes");

  const checked = tsc(app);
  assert.equal(checked.code, 0, checked.out);
  // `satisfies Handler<…>` keeps working next to defineFunction, typed from the same map.
  writeFileSync(
    join(app, "functions/classic.ts"),
    `import type { Handler } from "palisade";
export default ((event) => event.data.name.toUpperCase()) satisfies Handler<"greeting.requested">;
`,
  );
  const classic = tsc(app);
  assert.equal(classic.code, 0, classic.out);
});

test("tsc refuses a handler that emits a type its grant lacks, or data its schema does not describe", (t) => {
  const app = initApp(t);
  const greet = join(app, "functions/greet.ts");
  writeFileSync(
    greet,
    `import { defineFunction } from "palisade";
export default defineFunction("greet", async (event, ctx) => {
  await ctx.emit("greeting.requested", { name: event.data.name });
});
`,
  );
  const ungranted = tsc(app);
  assert.notEqual(ungranted.code, 0);
  assert.match(
    ungranted.out,
    /functions\/greet\.ts\(3,18\): error TS2345: Argument of type '"greeting\.requested"'/,
  );

  // Granted in palisade.yaml and regenerated: now the type is allowed, and its data is checked.
  const manifest = join(app, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace(
      "on: [greeting.requested]",
      "on: [greeting.requested]\n    emit: [greeting.requested]",
    ),
  );
  assert.equal(palisade("types", app, "--check").code, 1, "the manifest changed: the types are stale");
  assert.equal(palisade("types", app).code, 0);
  const granted = tsc(app);
  assert.equal(granted.code, 0, granted.out);

  writeFileSync(greet, readFileSync(greet, "utf8").replace("{ name: event.data.name }", "{ name: 42 }"));
  const wrongData = tsc(app);
  assert.notEqual(wrongData.code, 0);
  assert.match(
    wrongData.out,
    /functions\/greet\.ts\(3,42\): error TS2322: Type 'number' is not assignable to type 'string'/,
  );

  writeFileSync(
    greet,
    readFileSync(greet, "utf8").replace('defineFunction("greet"', 'defineFunction("gret"'),
  );
  assert.match(tsc(app).out, /Argument of type '"gret"' is not assignable/, "a function the manifest lacks");
});
