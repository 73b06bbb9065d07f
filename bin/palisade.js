#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on any Node, to hand over to Node 26 or say why it cannot.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 26) process.exit(await handOver());

// Node caches compiled modules (type-stripped TypeScript included) across runs: a warm start skips
// stripping and parsing every file again. Not in the shared temp dir Node uses by default, where
// another local user could plant code for this one to run: in this user's own cache dir (0700).
const { enableCompileCache } = await import("node:module");
const { homedir } = await import("node:os");
const { mkdirSync } = await import("node:fs");
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "palisade", "compile");
try {
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  enableCompileCache?.(cacheDir);
} catch {
  // no writable home (a service account): run without the cache
}

// The platform (gateway, bus, sandboxes) loads only when a command runs it: defining the commands
// loads commander alone, so --version, --help and send answer without it.
const platform = () => import("../src/main.ts");
const ops = {
  prepareApp: async (...args) => (await platform()).prepareApp(...args),
  startPlatform: async (...args) => (await platform()).startPlatform(...args),
  buildSigned: async (...args) => (await platform()).buildSigned(...args),
  invokeOnce: async (...args) => (await platform()).invokeOnce(...args),
};
const { main } = await import("../src/cli/index.ts");
process.exitCode = await main(process.argv.slice(2), ops);

/**
 * An older Node (the system's, when `npx` runs this bin from an app whose PATH has no Node 26) runs
 * this file again with the Node 26 that Palisade depends on (the `node` package), if installed.
 * Ctrl-C reaches both processes (one process group): this one waits for the child's own shutdown.
 */
async function handOver() {
  let node;
  try {
    const pkg = createRequire(import.meta.url).resolve("node/package.json");
    node = join(dirname(pkg), "bin", "node");
  } catch {
    node = undefined;
  }
  if (node === undefined || !existsSync(node)) {
    process.stderr.write(
      `palisade: needs Node.js 26 or newer, this is ${process.versions.node}; install Palisade's dependencies (npm ci installs Node 26) or put Node 26 on PATH\n`,
    );
    return 1;
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.on("SIGINT", () => undefined);
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`palisade: could not start ${node}: ${err.message}\n`);
      resolve(1);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 1)));
  });
}
