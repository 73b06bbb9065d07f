import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { bundleFunction } from "../../test/kit/bundle-function.ts";
import { tempApp } from "../../test/kit/temp-app.ts";
import { createEvent } from "../events/index.ts";
import { DEFAULT_LIMITS, DEFAULT_RETRY, type FunctionSpec, NO_GRANTS } from "../manifest/index.ts";
import {
  createCapabilityHost,
  createSandboxPool,
  detectOsLayer,
  egressFetch,
  type SandboxViolation,
} from "./index.ts";
import { removeStaleScratch, scratchRoot } from "./scratch-dir.ts";

const os = detectOsLayer();

// Writes `e.data.mb` MiB to a new file in its scratch dir; then waits `e.data.waitMs`; returns what it wrote.
const WRITER = `import { writeFileSync, readdirSync } from "node:fs";
export default async (e, ctx) => {
  let wrote = "all";
  try { writeFileSync(ctx.tmpdir + "/f" + e.data.n, Buffer.alloc(e.data.mb * 1024 * 1024, 1)); }
  catch (err) { wrote = err.code; }
  if (e.data.waitMs) await new Promise((r) => setTimeout(r, e.data.waitMs));
  return { wrote, files: readdirSync(ctx.tmpdir).length, dir: ctx.tmpdir };
};`;

async function scratchPool(t: TestContext, osLayer: boolean, violations: SandboxViolation[] = []) {
  const dir = tempApp(t, { "fn.ts": WRITER });
  const fn: FunctionSpec = {
    name: "writer",
    handlerPath: join(dir, "fn.ts"),
    on: ["t.x"],
    ...NO_GRANTS,
    tmp: true,
    limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 20_000, tmpMb: 2 },
    retry: DEFAULT_RETRY,
  };
  const bundlePath = await bundleFunction(fn.name, fn.handlerPath, join(dir, ".palisade"));
  const capabilities = createCapabilityHost(
    {
      emit: async () => "x",
      secret: () => undefined,
      kv: {
        get: async () => undefined,
        set: async () => undefined,
        delete: async () => false,
        list: async () => ({ keys: [] }),
      },
      fetch: (f, u, i) => egressFetch(u, i, { fn: f.name, rules: f.egress }),
    },
    { used: () => undefined, denied: () => undefined, limited: () => undefined },
  );
  const pool = createSandboxPool({
    fn,
    bundlePath,
    capabilities,
    log: () => undefined,
    osLayer,
    events: { violation: (v) => void violations.push(v) },
  });
  t.after(() => pool.close());
  await pool.start();
  return pool;
}

const write = (n: number, mb: number, waitMs = 0) =>
  createEvent({ type: "t.x", data: { n, mb, waitMs } }, { principal: "t", source: "t", hop: 0 });

type Written = { wrote: string; files: number; dir: string };

test("under bubblewrap the scratch dir is a tmpfs of limits.tmpMb: a write past it fails and the instance keeps serving", {
  skip: !os.active && os.description,
}, async (t) => {
  const pool = await scratchPool(t, true);
  const over = (await pool.invoke(write(1, 3), 1)) as Written;
  assert.equal(over.wrote, "ENOSPC");
  assert.equal(existsSync(over.dir), false, "nothing of it is on the host");
  // The same process, its scratch still within its limit, serves the next write.
  const next = (await pool.invoke(write(2, 0), 1)) as Written;
  assert.equal(next.wrote, "all");
});

test("without the OS layer, an invocation that fills the scratch dir past limits.tmpMb fails, its process is replaced with an empty one", async (t) => {
  const violations: SandboxViolation[] = [];
  const pool = await scratchPool(t, false, violations);
  const within = (await pool.invoke(write(1, 1), 1)) as Written;
  assert.deepEqual([within.wrote, within.files], ["all", 1]);
  await assert.rejects(pool.invoke(write(2, 3), 1), {
    code: "PAL_RUNTIME_SCRATCH_FULL",
    message: /wrote \d+ bytes to its scratch directory, over its limit of 2097152 bytes \(limits\.tmpMb\)/,
  });
  assert.equal(violations[0]?.kind, "scratch-full");
  for (let i = 0; i < 100 && existsSync(within.dir); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(within.dir), false, "the full scratch dir was removed");
  const after = (await pool.invoke(write(3, 1), 1)) as Written;
  assert.deepEqual([after.wrote, after.files], ["all", 1], "a fresh, empty scratch dir");
});

test("without the OS layer, a process that fills its scratch dir and keeps running is stopped by the periodic check", async (t) => {
  const pool = await scratchPool(t, false);
  // It would wait 15 s (within its 20 s timeout): the check stops it first.
  await assert.rejects(pool.invoke(write(1, 3, 15_000), 1), { code: "PAL_RUNTIME_SCRATCH_FULL" });
  const after = (await pool.invoke(write(2, 1), 1)) as Written;
  assert.equal(after.wrote, "all");
});

test("scratch dirs left by a platform that was killed are removed at start; a running platform's are kept", (t) => {
  const base = mkdtempSync(join(tmpdir(), "palisade-scratch-test-"));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = scratchRoot(base);
  const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
  mkdirSync(join(root, `${gone}-fn-abc`));
  writeFileSync(join(root, `${gone}-fn-abc`, "left"), "x");
  mkdirSync(join(root, `${process.pid}-fn-live`));
  mkdirSync(join(root, "not-a-scratch-dir"));
  assert.equal(removeStaleScratch(root), 1);
  assert.deepEqual(readdirSync(root).sort(), [`${process.pid}-fn-live`, "not-a-scratch-dir"]);
});

test("a scratch root that others can write to is refused, not used", (t) => {
  const base = mkdtempSync(join(tmpdir(), "palisade-scratch-test-"));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = scratchRoot(base);
  chmodSync(root, 0o777);
  assert.throws(() => scratchRoot(base), { code: "PAL_RUNTIME_SCRATCH_UNSAFE", message: /mode 0700/ });
});
