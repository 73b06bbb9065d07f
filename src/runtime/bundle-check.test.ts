import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { assertBundleHasNoSymlinks, RUNTIME_LOAD_FAILED } from "./index.ts";

/** A bundle in its own directory, as the build lays it out, plus a secret outside. */
function layout(t: TestContext): { root: string; dir: string; bundle: string; secret: string } {
  const root = mkdtempSync(join(tmpdir(), "palisade-bundle-check-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, ".palisade", "fn");
  mkdirSync(dir, { recursive: true });
  const bundle = join(dir, "fn.mjs");
  writeFileSync(bundle, "export default () => {};\n");
  const secret = join(root, "secret.txt");
  writeFileSync(secret, "not for functions\n");
  return { root, dir, bundle, secret };
}

test("a clean bundle passes the symlink check", (t) => {
  const { dir, bundle } = layout(t);
  mkdirSync(join(dir, "assets", "deep"), { recursive: true });
  writeFileSync(join(dir, "assets", "deep", "data.json"), "{}");
  assertBundleHasNoSymlinks(bundle);
});

test("a bundle whose directory holds a symlink pointing outside is refused, naming the link", (t) => {
  const { dir, bundle } = layout(t);
  const link = join(dir, "escape");
  symlinkSync("../../secret.txt", link);
  assert.throws(() => assertBundleHasNoSymlinks(bundle), {
    code: RUNTIME_LOAD_FAILED,
    message: `Cannot load function bundle "${bundle}": "${link}" is a symbolic link, and bundles may not contain symbolic links`,
  });
});

test("a symlink nested below the bundle's directory is refused too", (t) => {
  const { dir, bundle, root } = layout(t);
  mkdirSync(join(dir, "a", "b"), { recursive: true });
  const link = join(dir, "a", "b", "up");
  symlinkSync(root, link);
  assert.throws(() => assertBundleHasNoSymlinks(bundle), {
    code: RUNTIME_LOAD_FAILED,
    message: new RegExp(link),
  });
});

test("a bundle file that is itself a symlink is refused", (t) => {
  const { dir, secret } = layout(t);
  const linked = join(dir, "linked.mjs");
  symlinkSync(secret, linked);
  assert.throws(() => assertBundleHasNoSymlinks(linked), {
    code: RUNTIME_LOAD_FAILED,
    message: `Cannot load function bundle "${linked}": "${linked}" is a symbolic link, and bundles may not contain symbolic links`,
  });
});

test("a bundle directory that is itself a symlink is refused", (t) => {
  const { root, dir } = layout(t);
  const linkedDir = join(root, ".palisade", "other");
  symlinkSync(dir, linkedDir);
  assert.throws(() => assertBundleHasNoSymlinks(join(linkedDir, "fn.mjs")), {
    code: RUNTIME_LOAD_FAILED,
    message: new RegExp(`"${linkedDir}" is a symbolic link`),
  });
});

test("a missing bundle fails the check with a load error, not a raw ENOENT", (t) => {
  const { dir } = layout(t);
  assert.throws(() => assertBundleHasNoSymlinks(join(dir, "missing.mjs")), {
    code: RUNTIME_LOAD_FAILED,
    message: /^Cannot check function bundle ".*missing\.mjs": ENOENT/,
  });
});
