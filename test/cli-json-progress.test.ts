/**
 * The CLI's output contract: `--json` on every command that prints data (build, replay, dlq replay,
 * keys, secrets, audit anchor, init) parses and carries the data, the same printer for local and
 * `--url`; `secrets get` prints a value only with `--reveal` and only to a terminal (or `--to-pipe`),
 * audited; progress lines only on a terminal; NO_COLOR honoured. A terminal is a real pseudo-terminal
 * from util-linux `script`; the tests that need one are skipped where it is missing.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { deadLetterApp, KEYS, setAdminKeys } from "./kit/admin.ts";
import { BIN } from "./kit/cli-process.ts";
import { palisade, palisadeJson, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";
import { twoFunctionApp } from "./kit/two-function-app.ts";

const HAS_SCRIPT = spawnSync("script", ["--version"]).status === 0;
const NO_TTY = HAS_SCRIPT ? false : "util-linux script is not installed (no pseudo-terminal)";

/** `args` of the CLI as one POSIX shell command line. */
function commandLine(args: readonly string[]): string {
  return [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
}

/** Runs the CLI on a pseudo-terminal (stdout and stderr both a TTY); resolves with what it showed. */
function inTerminal(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; output: string }> {
  const child = spawn("script", ["-qec", commandLine(args), "/dev/null"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, output })));
}

/** A new app made by `palisade init --json` (so it has an audit key and a secret), and what init printed. */
async function initApp(t: TestContext): Promise<{ dir: string; init: Record<string, unknown> }> {
  const parent = tempApp(t, {});
  const dir = join(parent, "app");
  const init = (await palisadeJson(["init", dir])) as Record<string, unknown>;
  return { dir, init };
}

async function auditRecords(dir: string): Promise<{ kind: string; subject?: string; details?: any }[]> {
  const run = await palisade(["audit", "tail", "-n", "100", "--json", "--app", dir]);
  assert.equal(run.status, 0, run.stderr);
  return run.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

test("build --json reports every function's bundle, digest, SBOM and signing key; nothing on a piped stderr", async (t) => {
  const dir = twoFunctionApp(t, "json-build");
  const run = await palisade(["build", dir, "--json"]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, "", "no progress line when stderr is not a terminal");
  const { functions } = JSON.parse(run.stdout) as { functions: Record<string, any>[] };
  assert.deepEqual(
    functions.map((f) => f.name),
    ["alpha", "beta"],
  );
  for (const f of functions) {
    const bundle = readFileSync(join(dir, f.bundle));
    assert.equal(f.sha256, createHash("sha256").update(bundle).digest("hex"));
    assert.equal(JSON.parse(readFileSync(join(dir, f.sbom), "utf8")).bomFormat, "CycloneDX");
    const envelope = JSON.parse(readFileSync(join(dir, f.attestation), "utf8"));
    assert.match(f.keyId, /\S/);
    assert.equal(f.keyId, envelope.signatures[0].keyid);
    assert.deepEqual(f.packages, []);
  }
  const text = await palisade(["build", dir]);
  assert.match(text.stdout, /^alpha: dist\/alpha\/index\.mjs sha256:[0-9a-f]{16}… 0 package\(s\)/m);
  assert.equal(text.stderr, "");
});

test("build on a terminal shows a progress line naming the function being bundled", {
  skip: NO_TTY,
}, async (t) => {
  const dir = twoFunctionApp(t, "tty-build");
  const run = await inTerminal(["build", dir]);
  assert.equal(run.status, 0, run.output);
  assert.match(run.output, /\rbundling \[[#.]{30}\] 0\/2 alpha/);
  assert.match(run.output, /\rbundling \[[#.]{30}\] 1\/2 beta/);
  assert.match(run.output, /alpha: dist\/alpha\/index\.mjs/);
});

test("dlq replay and replay --json carry their results, alike locally and through --url", async (t) => {
  const dir = tempApp(t, deadLetterApp("json-replay"));
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKeys(dir);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const until = Date.now() + 1500;
  const id = (await post(`${platform.url}/events`, { type: "job.queued", data: { n: until } })).body.ids[0];
  await waitUntil(
    "the dead letter",
    async () => ((await palisadeJson(["dlq", "list", "--app", dir])) as unknown[]).length === 1,
  );

  const none = await palisade(["dlq", "replay", "no-such-event", "--app", dir, "--json"]);
  assert.equal(none.status, 1, "nothing matched");
  assert.deepEqual(JSON.parse(none.stdout), { matched: 0, requeued: 0, refused: [] });
  const noneText = await palisade(["dlq", "replay", "no-such-event", "--app", dir]);
  assert.equal(noneText.status, 1);
  assert.match(noneText.stderr, /no matching dead letters/);

  await waitUntil("the cause to pass", () => Date.now() > until + 50);
  const requeued = await palisade(["dlq", "replay", id, "--app", dir, "--json"]);
  assert.equal(requeued.status, 0, requeued.stderr);
  assert.equal(requeued.stderr, "", "no progress line when stderr is not a terminal");
  assert.deepEqual(JSON.parse(requeued.stdout), { matched: 1, requeued: 1, refused: [] });
  await logs.waitFor((l) => l.msg === "worked" && l.n === until);

  const local = await palisade(["replay", "--since", "1h", "--type", "job.queued", "--app", dir, "--json"]);
  assert.equal(local.status, 0, local.stderr);
  assert.equal(local.stderr, "", "no progress line when stderr is not a terminal");
  const expected = { events: 1, replayed: 1, refused: [], skipped: [] };
  assert.deepEqual(JSON.parse(local.stdout), expected);
  const remote = await palisadeJson(
    ["replay", "--since", "1h", "--type", "job.queued", "--url", platform.url],
    {
      PALISADE_ADMIN_KEY: KEYS.OPS_KEY,
    },
  );
  assert.deepEqual(remote, expected, "the same printer answers --url");
  const text = await palisade(["replay", "--since", "1h", "--type", "job.queued", "--app", dir]);
  assert.equal(text.stdout, "replayed 1 deliveries of 1 events\n");
});

test("init, keys rotate and keys retire print JSON with what they did", async (t) => {
  const { dir, init } = await initApp(t);
  assert.equal(init.name, "app");
  assert.equal(init.dir, dir);
  assert.ok((init.written as string[]).includes("palisade.yaml"));
  assert.ok((init.keys as string[]).includes("keys/signing.pub"));
  assert.deepEqual(init.secrets, ["LOCAL_KEY"]);

  const rotate = await palisade(["keys", "rotate", "--app", dir, "--json"]);
  assert.equal(rotate.status, 0, rotate.stderr);
  assert.equal(rotate.stderr, "", "no progress line when stderr is not a terminal");
  const rotated = JSON.parse(rotate.stdout);
  assert.equal(rotated.rotated, 2);
  assert.equal(rotated.active, 2);
  assert.ok(rotated.reencrypted >= 1, "the LOCAL_KEY secret was on version 1");
  const resumed = await palisadeJson(["keys", "rotate", "--resume", "--app", dir]);
  assert.deepEqual(resumed, { rotated: null, active: 2, reencrypted: 0 });
  assert.deepEqual(await palisadeJson(["keys", "retire", "1", "--app", dir]), { retired: 1 });
  const status = (await palisadeJson(["keys", "status", "--app", dir])) as { versions: any[] };
  assert.equal(status.versions.find((v) => v.version === 1)?.retired, true);
});

test("secrets set, get, rotate and rm --json carry names and states, never a value unless revealed", async (t) => {
  const { dir } = await initApp(t);
  const value = "s3cret-value-0123456789";
  const set = await palisadeJson(["secrets", "set", "API_TOKEN", "--value", value, "--app", dir]);
  assert.deepEqual(set, { name: "API_TOKEN", set: true });
  assert.deepEqual(await palisadeJson(["secrets", "get", "API_TOKEN", "--app", dir]), { name: "API_TOKEN" });
  const text = await palisade(["secrets", "get", "API_TOKEN", "--app", dir]);
  assert.equal(text.status, 0);
  assert.match(text.stdout, /^secret API_TOKEN is set; --reveal prints its value to a terminal\n$/);

  const rotated = await palisade([
    "secrets",
    "rotate",
    "API_TOKEN",
    "--value",
    `${value}-2`,
    "--app",
    dir,
    "--json",
  ]);
  assert.equal(rotated.status, 0, rotated.stderr);
  assert.ok(!rotated.stdout.includes(value));
  const r = JSON.parse(rotated.stdout);
  assert.equal(r.rotated, true);
  assert.ok(Date.parse(r.previousValidUntil) > Date.now());
  const mid = (await palisadeJson(["secrets", "get", "API_TOKEN", "--app", dir])) as Record<string, unknown>;
  assert.equal(typeof mid.previousValidUntil, "string");
  assert.equal(mid.value, undefined);

  assert.deepEqual(await palisadeJson(["secrets", "rm", "API_TOKEN", "--app", dir]), {
    name: "API_TOKEN",
    removed: true,
  });
  const gone = await palisade(["secrets", "get", "API_TOKEN", "--app", dir, "--json"]);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /no secret named "API_TOKEN"/);
  const reads = (await auditRecords(dir)).filter((a) => a.kind === "secret.read");
  assert.deepEqual(reads, [], "saying a secret is set reads no value");
});

test("secrets get --reveal refuses a pipe unless --to-pipe, and audits every value printed", async (t) => {
  const { dir } = await initApp(t);
  const refused = await palisade(["secrets", "get", "LOCAL_KEY", "--reveal", "--app", dir]);
  assert.equal(refused.status, 2);
  assert.equal(refused.stdout, "");
  assert.match(refused.stderr, /--reveal prints only to a terminal.*pipe or a file.*add --to-pipe/);
  const lonely = await palisade(["secrets", "get", "LOCAL_KEY", "--to-pipe", "--app", dir]);
  assert.equal(lonely.status, 2);
  assert.match(lonely.stderr, /--to-pipe only goes with --reveal/);

  const piped = await palisade(["secrets", "get", "LOCAL_KEY", "--reveal", "--to-pipe", "--app", dir]);
  assert.equal(piped.status, 0, piped.stderr);
  const key = piped.stdout.trim();
  assert.ok(key.length >= 40, "the generated API key");
  const json = await palisadeJson(["secrets", "get", "LOCAL_KEY", "--reveal", "--to-pipe", "--app", dir]);
  assert.deepEqual(json, { name: "LOCAL_KEY", value: key });
  const reads = (await auditRecords(dir)).filter((a) => a.kind === "secret.read");
  assert.deepEqual(
    reads.map((a) => [a.subject, a.details?.to]),
    [
      ["LOCAL_KEY", "pipe"],
      ["LOCAL_KEY", "pipe"],
    ],
  );
  assert.ok(!JSON.stringify(reads).includes(key), "the value is in no audit record");
});

test("secrets get --reveal prints the value to a terminal, audited as read to the terminal", {
  skip: NO_TTY,
}, async (t) => {
  const { dir } = await initApp(t);
  const key = (
    await palisade(["secrets", "get", "LOCAL_KEY", "--reveal", "--to-pipe", "--app", dir])
  ).stdout.trim();
  const run = await inTerminal(["secrets", "get", "LOCAL_KEY", "--reveal", "--app", dir]);
  assert.equal(run.status, 0, run.output);
  assert.equal(run.output.trim(), key);
  const reads = (await auditRecords(dir)).filter((a) => a.kind === "secret.read");
  assert.deepEqual(
    reads.map((a) => a.details?.to),
    ["pipe", "terminal"],
  );
});

test("audit anchor --json prints the signed head that audit verify --anchor checks", async (t) => {
  const { dir } = await initApp(t);
  assert.equal((await palisade(["secrets", "set", "X", "--value", "y", "--app", dir])).status, 0);
  const anchor = (await palisadeJson(["audit", "anchor", "--app", dir])) as Record<string, unknown>;
  assert.equal(typeof anchor.seq, "number");
  assert.match(String(anchor.hash), /^[0-9a-f]{64}$/);
  assert.equal(typeof anchor.signature, "string");
  const file = join(dir, "anchor.json");
  writeFileSync(file, JSON.stringify(anchor));
  const verify = await palisade(["audit", "verify", "--anchor", file, "--app", dir]);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
});

/** Starts `palisade dev` on a pseudo-terminal; resolves with its output once it serves, then stops it. */
async function devOnTerminal(t: TestContext, env: Record<string, string>): Promise<string> {
  const dir = twoFunctionApp(t, "tty-dev");
  const child = spawn("script", ["-qec", `exec ${commandLine(["dev", dir, "--port", "0"])}`, "/dev/null"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  t.after(() => stopDev(child, closed));
  await waitUntil("dev to serve", () => output.includes("palisade is running"), 60_000);
  await stopDev(child, closed);
  return output;
}

/** SIGTERM to the dev process itself (script's child, by its pid), then waits for script to end. */
async function stopDev(child: ChildProcess, closed: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return closed;
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
  for (const pid of children) if (pid !== "") process.kill(Number(pid), "SIGTERM");
  await closed;
}

test("dev on a terminal colours its log lines and shows bundling progress; NO_COLOR turns every escape code off", {
  skip: NO_TTY,
}, async (t) => {
  const coloured = await devOnTerminal(t, { NO_COLOR: "" });
  assert.ok(coloured.includes("\x1b["), "colours on a terminal without NO_COLOR");
  const plain = await devOnTerminal(t, { NO_COLOR: "1" });
  assert.match(plain, /INFO {2}palisade is running/);
  // Bundling at start shows its progress on a terminal (tests that pipe dev's output see none).
  assert.match(plain, /bundling \[#+\] 2\/2 \w+/);
  assert.ok(!plain.includes("\x1b"), `no escape code with NO_COLOR: ${JSON.stringify(plain.slice(0, 300))}`);
});
