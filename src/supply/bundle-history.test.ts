import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  admitBundle,
  buildFunction,
  checkStagedBundle,
  generateSigningKey,
  loadTrustedKeys,
  SUPPLY_DIGEST_MISMATCH,
  SUPPLY_DOWNGRADE,
  SUPPLY_MALFORMED,
  signFunction,
  stageBundle,
  type VerifiedBundle,
  verifyFunction,
} from "./index.ts";

interface App {
  app: string;
  history: string;
  /** Builds and signs function "charge" answering `answer`, signed at `at`; returns what verifies. */
  release(answer: string, at: string): Promise<VerifiedBundle>;
}

function tempApp(t: TestContext): App {
  const app = mkdtempSync(join(tmpdir(), "palisade-supply-history-"));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  mkdirSync(join(app, "functions"));
  const { privateKeyPem } = generateSigningKey(app);
  return {
    app,
    history: join(app, ".palisade", "bundle-history.json"),
    async release(answer, at) {
      writeFileSync(join(app, "functions/charge.ts"), `export default () => "${answer}";\n`);
      const built = await buildFunction({
        name: "charge",
        handlerPath: join(app, "functions/charge.ts"),
        appDir: app,
        outDir: join(app, "dist"),
      });
      signFunction(built.dir, privateKeyPem, new Date(at));
      return verifyFunction(built.dir, loadTrustedKeys(app));
    },
  };
}

test("the signed attestation carries the build time, and verification returns it with the verified bytes", async (t) => {
  const a = tempApp(t);
  const v = await a.release("v1", "2026-03-01T10:00:00.000Z");
  assert.equal(v.builtAt, "2026-03-01T10:00:00.000Z");
  assert.deepEqual(v.bundle, readFileSync(v.bundlePath));
});

test("a bundle built before the last one accepted is refused as a downgrade; the same or a newer one is admitted", async (t) => {
  const a = tempApp(t);
  mkdirSync(join(a.app, ".palisade"));
  const v1 = await a.release("v1", "2026-03-01T10:00:00.000Z");
  const v2 = await a.release("v2", "2026-03-02T10:00:00.000Z");
  assert.deepEqual(admitBundle(a.history, "charge", v1, false), {});
  assert.deepEqual(admitBundle(a.history, "charge", v2, false), {});
  assert.throws(
    () => admitBundle(a.history, "charge", v1, false),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, SUPPLY_DOWNGRADE);
      assert.match(err.message, /2026-03-01T10:00:00.000Z.*before the one last run.*--allow-downgrade/);
      return true;
    },
  );
  // Refusing did not move the reference: v2 is still admitted, again and again.
  assert.deepEqual(admitBundle(a.history, "charge", v2, false), {});
  // Another function's history is its own.
  assert.deepEqual(admitBundle(a.history, "refund", v1, false), {});
});

test("--allow-downgrade admits the older bundle, says what it replaced, and makes it the new reference", async (t) => {
  const a = tempApp(t);
  mkdirSync(join(a.app, ".palisade"));
  const v1 = await a.release("v1", "2026-03-01T10:00:00.000Z");
  const v2 = await a.release("v2", "2026-03-02T10:00:00.000Z");
  admitBundle(a.history, "charge", v2, false);
  assert.deepEqual(admitBundle(a.history, "charge", v1, true), {
    downgradedFrom: "2026-03-02T10:00:00.000Z",
  });
  assert.deepEqual(admitBundle(a.history, "charge", v1, false), {});
});

test("a bundle whose attestation has no build time counts as older than any that has one", async (t) => {
  const a = tempApp(t);
  mkdirSync(join(a.app, ".palisade"));
  const v2 = await a.release("v2", "2026-03-02T10:00:00.000Z");
  const { builtAt: _, ...untimed } = await a.release("v0", "2026-03-01T10:00:00.000Z");
  admitBundle(a.history, "charge", v2, false);
  assert.throws(() => admitBundle(a.history, "charge", untimed, false), { code: SUPPLY_DOWNGRADE });
});

test("a damaged history is refused with its path and the fix, never silently reset", async (t) => {
  const a = tempApp(t);
  mkdirSync(join(a.app, ".palisade"));
  writeFileSync(a.history, "{ not json");
  const v1 = await a.release("v1", "2026-03-01T10:00:00.000Z");
  assert.throws(
    () => admitBundle(a.history, "charge", v1, false),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, SUPPLY_MALFORMED);
      assert.ok(err.message.includes(a.history) && /restore it from a backup/.test(err.message));
      return true;
    },
  );
  assert.equal(readFileSync(a.history, "utf8"), "{ not json");
});

test("the staged bundle is the verified bytes even when the build output changes afterwards, and a changed staged file is caught", async (t) => {
  const a = tempApp(t);
  const v1 = await a.release("v1", "2026-03-01T10:00:00.000Z");
  const staged = stageBundle(v1, "charge", join(a.app, ".palisade", "run"));
  writeFileSync(v1.bundlePath, 'export default () => "swapped";\n');
  assert.deepEqual(readFileSync(staged), v1.bundle);
  checkStagedBundle(staged, v1.sha256, "charge");
  // Staging again replaces the file (by rename), even though it is read-only.
  assert.equal(stageBundle(v1, "charge", join(a.app, ".palisade", "run")), staged);
  chmodSync(staged, 0o600);
  writeFileSync(staged, 'export default () => "swapped";\n');
  assert.throws(() => checkStagedBundle(staged, v1.sha256, "charge"), { code: SUPPLY_DIGEST_MISMATCH });
});
