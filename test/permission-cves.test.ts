/**
 * Regression tests for Node permission-model advisories (see permission-cves.ts for the table).
 * Each probe is bundled into a real function and run three times: on plain Node, where every attempt
 * must go through (so the probe can fail); then in a real sandbox pool without and with a private
 * temp dir, where every attempt must be blocked, the token of the secret file must not come back,
 * nothing on the host may change, and the same process must serve the next invocation.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect, promisify } from "node:util";
import { createEvent } from "../src/events/index.ts";
import { DEFAULT_LIMITS, DEFAULT_RETRY, type FunctionSpec, NO_GRANTS } from "../src/manifest/index.ts";
import { createSandboxPool } from "../src/runtime/index.ts";
import { bundleFunction } from "./kit/bundle-function.ts";
import { corpus } from "./kit/corpus.ts";
import { tempApp } from "./kit/temp-app.ts";
import {
  ADVISORIES,
  type Attempt,
  HELPERS,
  NO_EFFECT,
  PRELUDE,
  type Probe,
  type ProbeInput,
} from "./permission-cves.ts";

const ADVISORY_CORPUS = corpus("node-permission-cves");
const ADVISORY_DIR = ADVISORY_CORPUS.dir;

/** What the host hands a probe; the sandbox adds the paths that depend on its grants. */
type HostInput = Pick<ProbeInput, "secret" | "outside" | "socket" | "fresh">;

interface Outcome {
  returned?: string;
  code?: string;
  message?: string;
}

interface ProbeReport {
  pid: number;
  controls?: { readBundle: boolean; writeTmp: boolean | null };
  outcomes?: Record<string, Outcome>;
}

/**
 * The probe bundle's default export. Its source is copied into the bundle, where fs, path, inspect and
 * fileURLToPath are the PRELUDE's imports of the same names.
 */
function probeHandler(attempts: Record<string, Attempt>) {
  return async (
    event: { data: { probe: boolean; input?: HostInput } },
    ctx: { tmpdir?: string | undefined },
  ): Promise<ProbeReport> => {
    if (!event.data.probe || event.data.input === undefined) return { pid: process.pid };
    const bundle = fileURLToPath(import.meta.url);
    const granted = ctx.tmpdir ?? bundle;
    const x: ProbeInput = {
      ...event.data.input,
      bundle,
      granted,
      scratch: ctx.tmpdir ?? path.dirname(bundle),
      // Concatenated, not path.join: join would fold the `..` segments away.
      traversal: `${granted}/${path.relative(granted, event.data.input.secret)}`,
      traversalDir: `${granted}/${path.relative(granted, event.data.input.outside)}`,
    };
    // The grants really are what the attempts assume: the bundle reads, the temp dir writes.
    let writeTmp: boolean | null = null;
    if (ctx.tmpdir !== undefined) {
      const file = path.join(ctx.tmpdir, "control.txt");
      fs.writeFileSync(file, "ok");
      writeTmp = fs.readFileSync(file, "utf8") === "ok";
    }
    const outcomes: Record<string, Outcome> = {};
    for (const [name, attempt] of Object.entries(attempts)) {
      try {
        const value = await attempt(x);
        outcomes[name] = { returned: inspect(value, { depth: 2, breakLength: Infinity }).slice(0, 400) };
      } catch (err) {
        const { code, message } = err as { code?: unknown; message?: unknown };
        outcomes[name] = { code: String(code), message: String(message).slice(0, 300) };
      }
    }
    return {
      pid: process.pid,
      controls: { readBundle: fs.readFileSync(bundle).length > 0, writeTmp },
      outcomes,
    };
  };
}

function handlerSource(attempts: Record<string, Attempt>): string {
  const rows = Object.entries(attempts).map(
    ([name, attempt]) => `  ${JSON.stringify(name)}: ${String(attempt)},`,
  );
  return [
    PRELUDE,
    ...HELPERS.map(String),
    `const attempts = {\n${rows.join("\n")}\n};`,
    `export default (${String(probeHandler)})(attempts);`,
  ].join("\n\n");
}

interface Layout {
  root: string;
  handlerPath: string;
  bundle: string;
  token: string;
  input: HostInput;
  connections(): number;
}

/** A temp app: the probe bundle, a secret JSON file and a listening Unix socket outside any grant. */
async function layout(t: TestContext, attempts: Record<string, Attempt>): Promise<Layout> {
  const token = randomUUID();
  const root = tempApp(t, {
    "probe.js": handlerSource(attempts),
    "outside/secret.json": { token },
    "tmp/.keep": "",
  });
  const outside = path.join(root, "outside");
  const socket = path.join(outside, "host.sock");
  let connections = 0;
  const server = createServer((s) => {
    connections += 1;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, resolve);
  });
  t.after(() => server.close());
  const handlerPath = path.join(root, "probe.js");
  return {
    root,
    handlerPath,
    bundle: await bundleFunction("probe", handlerPath, path.join(root, ".palisade")),
    token,
    input: { secret: path.join(outside, "secret.json"), outside, socket, fresh: path.join(outside, "fresh") },
    connections: () => connections,
  };
}

/** What a probe could have changed on the host. */
function hostState(app: Layout): object {
  const bundle = fs.statSync(app.bundle);
  return {
    outside: fs.readdirSync(app.input.outside).sort(),
    secret: fs.readFileSync(app.input.secret, "utf8"),
    bundle: {
      mode: bundle.mode,
      uid: bundle.uid,
      gid: bundle.gid,
      size: bundle.size,
      mtimeMs: bundle.mtimeMs,
    },
    connections: app.connections(),
  };
}

// CommonJS on purpose: it makes process.mainModule exist, as CVE-2023-23918 assumed.
const PLAIN_DRIVER = `"use strict";
const { pathToFileURL } = require("node:url");
const [bundle, input, tmpdir] = process.argv.slice(2);
import(pathToFileURL(bundle).href)
  .then((m) => m.default({ data: { probe: true, input: JSON.parse(input) } }, { tmpdir }))
  .then(
    (report) => { process.stdout.write(JSON.stringify(report)); process.exit(0); },
    (err) => { process.stderr.write(String(err && err.stack)); process.exit(1); },
  );
`;

/** Runs the attempts on plain Node (no permission model) against a layout of their own. */
async function runPlain(t: TestContext, attempts: Record<string, Attempt>): Promise<ProbeReport> {
  const app = await layout(t, attempts);
  const driver = path.join(app.root, "driver.cjs");
  fs.writeFileSync(driver, PLAIN_DRIVER);
  const tmp = path.join(app.root, "tmp");
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [driver, app.bundle, JSON.stringify(app.input), tmp],
    { env: {}, timeout: 60_000 },
  );
  return JSON.parse(stdout) as ProbeReport;
}

const probeEvent = (data: object) =>
  createEvent({ type: "t.probe", data }, { principal: "test", source: "test", hop: 0 });

/** Runs the probe, then a plain invocation, in a real sandbox pool of one process. */
async function runSandboxed(
  t: TestContext,
  app: Layout,
  tmp: boolean,
): Promise<{ report: ProbeReport; served: ProbeReport }> {
  const fn: FunctionSpec = {
    name: "probe",
    handlerPath: app.handlerPath,
    on: ["t.probe"],
    ...NO_GRANTS,
    tmp,
    limits: { ...DEFAULT_LIMITS, concurrency: 1, minInstances: 1, timeoutMs: 20_000 },
    retry: DEFAULT_RETRY,
  };
  const pool = createSandboxPool({
    fn,
    bundlePath: app.bundle,
    capabilities: async (_inv, cap) => {
      throw new Error(`the probe asked for the "${cap}" capability`);
    },
    log: () => undefined,
    // The permission model alone: bubblewrap's private root would hide the files the probes aim at.
    osLayer: false,
  });
  t.after(() => pool.close());
  await pool.start();
  const report = (await pool.invoke(probeEvent({ probe: true, input: app.input }), 1)) as ProbeReport;
  const served = (await pool.invoke(probeEvent({ probe: false }), 1)) as ProbeReport;
  return { report, served };
}

function plainProblems(report: ProbeReport, names: string[]): string[] {
  return names.flatMap((name) => {
    const o = report.outcomes?.[name];
    if (o?.returned !== undefined) return [];
    return [
      `plain Node: "${name}" did not go through even without the permission model (${o?.code}: ${o?.message}), so it cannot show a regression`,
    ];
  });
}

function blockProblems(where: string, report: ProbeReport, names: string[], blockedBy: readonly string[]) {
  return names.flatMap((name) => {
    const o = report.outcomes?.[name];
    if (o === undefined) return [`${where}: "${name}" reported nothing`];
    if (o.returned !== undefined) return [`${where}: "${name}" was NOT blocked; it returned ${o.returned}`];
    if (o.code === NO_EFFECT || blockedBy.includes(String(o.code))) return [];
    return [
      `${where}: "${name}" failed with ${o.code} (${o.message}), not by the permission model (expected ${blockedBy.join(" or ")})`,
    ];
  });
}

async function assertBlocked(
  t: TestContext,
  label: string,
  probe: Probe,
  attempts: Record<string, Attempt>,
): Promise<void> {
  const names = Object.keys(attempts);
  assert.deepEqual(plainProblems(await runPlain(t, attempts), names), [], label);

  const app = await layout(t, attempts);
  probe.hostCheck?.(app.bundle, app.input.outside);
  const before = hostState(app);
  for (const tmp of [false, true]) {
    const where = tmp ? "sandbox with a temp dir" : "sandbox";
    const { report, served } = await runSandboxed(t, app, tmp);
    assert.deepEqual(
      report.controls,
      { readBundle: true, writeTmp: tmp ? true : null },
      `${label}, ${where}`,
    );
    assert.deepEqual(
      blockProblems(where, report, names, probe.blockedBy ?? ["ERR_ACCESS_DENIED"]),
      [],
      label,
    );
    assert.ok(
      !JSON.stringify(report).includes(app.token),
      `${label}, ${where}: the secret's token came back`,
    );
    assert.equal(
      served.pid,
      report.pid,
      `${label}, ${where}: the probe's process did not serve the next call`,
    );
  }
  assert.deepEqual(hostState(app), before, `${label}: the probe changed something on the host`);
}

test("every vendored permission-model advisory has a row: a probe, or why it cannot apply", {
  skip: ADVISORY_CORPUS.skip,
}, () => {
  const files = fs
    .readdirSync(ADVISORY_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort();
  assert.ok(files.length > 0, `no advisories found in ${ADVISORY_DIR}`);
  assert.deepEqual(
    files.filter((f) => ADVISORIES[f] === undefined),
    [],
    "advisories without a row in test/permission-cves.ts: add a probe or a reason",
  );
  assert.deepEqual(
    Object.keys(ADVISORIES).filter((f) => !files.includes(f)),
    [],
    "rows in test/permission-cves.ts without an advisory file",
  );
  for (const file of files) {
    const { cve } = JSON.parse(fs.readFileSync(path.join(ADVISORY_DIR, file), "utf8")) as { cve: string[] };
    assert.ok(
      cve.includes(String(ADVISORIES[file]?.cve)),
      `${file} is ${cve.join(", ")}, not ${ADVISORIES[file]?.cve}`,
    );
  }
});

for (const [file, advisory] of Object.entries(ADVISORIES)) {
  if (!("probe" in advisory)) continue;
  const { cve, probe } = advisory;
  const label = `${file} (${cve})`;
  test(`${label}: ${probe.tries} is blocked, and the sandbox keeps serving`, (t) =>
    assertBlocked(t, label, probe, probe.attempts));

  const gaps = Object.entries(probe.knownGaps ?? {});
  if (gaps.length === 0) continue;
  const todo = gaps.map(([name, gap]) => `${name}: ${gap.why}`).join("; ");
  test(`${label}, known gap on this Node: ${gaps.map(([name]) => name).join(", ")}`, { todo }, (t) =>
    assertBlocked(t, label, probe, Object.fromEntries(gaps.map(([name, gap]) => [name, gap.attempt]))),
  );
}
