#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on any Node to say why an old one cannot run Palisade.
const major = Number(process.versions.node.split(".")[0]);
if (major < 26) {
  process.stderr.write(
    `palisade: needs Node.js 26 or newer, this is ${process.versions.node}; run it as "npx palisade" inside the project (npm ci installs Node 26)\n`,
  );
  process.exit(1);
}
const { runCli } = await import("../src/main.ts");
process.exitCode = await runCli(process.argv.slice(2));
