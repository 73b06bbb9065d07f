import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempApp } from "../../test/kit/temp-app.ts";
import { bwrapArgs, detectOsLayer } from "./os-layer.ts";

const os = detectOsLayer();

// The OS layer on its own, WITHOUT Node's permission model: what it alone takes away. The escape
// suite (test/escape.test.ts) covers both layers together and the permission model alone.
const PROBE = `
const fs = require("node:fs"), net = require("node:net"), os = require("node:os");
const out = { uid: process.getuid(), pid: process.pid, nets: Object.keys(os.networkInterfaces()) };
out.root = fs.readdirSync("/").sort();
for (const [name, f] of [["passwd", () => fs.readFileSync("/etc/passwd")], ["write", () => fs.writeFileSync(process.argv[2] + "/x", "1")], ["tmp", () => fs.writeFileSync("/tmp/x", "1")]]) {
  try { f(); out[name] = "allowed"; } catch (e) { out[name] = e.code; }
}
const s = net.connect(4222, "127.0.0.1");
s.on("connect", () => { out.nats = "connected"; console.log(JSON.stringify(out)); process.exit(0); });
s.on("error", (e) => { out.nats = e.code; console.log(JSON.stringify(out)); process.exit(0); });
`;

test("the OS layer alone: no host files, read-only code, no host network, unprivileged, own PID space", {
  skip: os.active ? false : os.description,
}, (t) => {
  const dir = tempApp(t, { "probe.cjs": PROBE });
  const probe = join(dir, "probe.cjs");
  writeFileSync(join(dir, "marker"), "");
  const run = spawnSync("bwrap", [...bwrapArgs([probe]), process.execPath, probe, dir], {
    encoding: "utf8",
    env: {},
  });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(out.uid, 65534);
  assert.ok(Number(out.pid) <= 3, `pid ${out.pid} is from the host's PID space`);
  assert.deepEqual(out.nets, ["lo"]);
  assert.equal(out.passwd, "ENOENT"); // not mounted at all
  assert.match(String(out.write), /^(EROFS|EACCES|ENOENT)$/); // its own directory is a read-only bind
  assert.match(String(out.tmp), /^(EROFS|EACCES|ENOENT)$/);
  assert.equal(out.nats, "ECONNREFUSED"); // its loopback is not the host's (NATS listens on the host's)
  assert.ok(
    !(out.root as string[]).includes("etc") && !(out.root as string[]).includes("home"),
    String(out.root),
  );
});

test("the OS layer can be switched off, and says so", () => {
  const run = spawnSync(
    process.execPath,
    [
      "-e",
      `import("${new URL("./os-layer.ts", import.meta.url).href}").then((m) => console.log(JSON.stringify(m.detectOsLayer())))`,
    ],
    {
      encoding: "utf8",
      env: { PALISADE_SANDBOX_OS: "off" },
    },
  );
  assert.deepEqual(JSON.parse(run.stdout), {
    active: false,
    description: "OS layer switched off (PALISADE_SANDBOX_OS=off)",
  });
});
