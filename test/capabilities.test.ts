/**
 * Capabilities end to end: a function delivered through the platform reads a granted secret, keeps
 * state in a granted kv namespace, fetches from a granted address and writes its scratch dir; the
 * secret never appears in a log line; what it used and what it was refused shows up in
 * `palisade permissions report`; `palisade invoke` runs it once with the same checks.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const SECRET = "sk_live_0123456789-capability-test";

function runAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

const HANDLER = `
import { writeFileSync, readFileSync } from "node:fs";
export default async (event, ctx) => {
  const token = await ctx.secrets.get("API_TOKEN");
  ctx.log.info("using token " + token, { token, nested: { again: "Bearer " + token } });
  console.log("stdout also carries " + token);
  const res = await ctx.fetch(event.data.url, { method: "POST", headers: { authorization: "Bearer " + token }, body: "n=" + event.data.n });
  const seen = await ctx.kv.get("orders", "count");
  await ctx.kv.set("orders", "count", (seen ?? 0) + 1);
  writeFileSync(ctx.tmpdir + "/scratch.txt", "n=" + event.data.n);
  const denied = await ctx.secrets.get("ADMIN_TOKEN").then(() => "allowed", (e) => e.code);
  return { status: res.status, body: await res.text(), count: (seen ?? 0) + 1, scratch: readFileSync(ctx.tmpdir + "/scratch.txt", "utf8"), denied };
};`;

test("secrets, kv, egress and tmp work as granted, secrets are redacted, and use is reported", async (t) => {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push(
        `${req.headers.authorization === `Bearer ${SECRET}` ? "authorized" : "anonymous"} ${body}`,
      );
      res.end("charged");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const dir = tempApp(t, {
    "palisade.yaml": `name: caps
events:
  order.created: { schema: schemas/order.json }
${testPrincipal(["order.created"])}functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
    secrets: [API_TOKEN]
    egress: ["http://127.0.0.1:${port}", "api.stripe.com:443"]
    kv: { orders: readwrite, prices: read }
    tmp: true
    retry: { attempts: 1 }
`,
    "schemas/order.json": {
      type: "object",
      required: ["n", "url"],
      additionalProperties: false,
      properties: { n: NUMBER_SCHEMA.properties.n, url: { type: "string" } },
    },
    "functions/charge.ts": HANDLER,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "API_TOKEN", SECRET);
  setSecret(dir, "ADMIN_TOKEN", "not-for-charge");
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  for (const n of [1, 2]) {
    const sent = await post(`${platform.url}/events`, {
      type: "order.created",
      data: { n, url: `http://127.0.0.1:${port}/charge` },
    });
    assert.equal(sent.status, 202);
    const id = sent.body.ids[0];
    await logs.waitFor((l) => l.msg === "delivered" && l.eventId === id);
  }
  assert.deepEqual(received, ["authorized n=1", "authorized n=2"]);

  // The secret reached the function and the server, and no log line.
  const text = logs.lines.map((l) => JSON.stringify(l)).join("\n");
  assert.ok(!text.includes(SECRET), "a log line carries the secret");
  assert.ok(logs.lines.some((l) => l.msg === "using token [REDACTED]"));
  assert.ok(logs.lines.some((l) => String(l.msg).includes("stdout also carries [REDACTED]")));
  assert.ok(
    logs.lines.some(
      (l) =>
        l.msg ===
        "capability denied: " +
          'Function "charge" may not read secret "ADMIN_TOKEN"; add it to functions.charge.secrets in palisade.yaml',
    ),
  );
  const metrics = await scrape(platform);
  assert.match(metrics, /palisade_capability_denied_total\{fn="charge",kind="secret"\} 2/);
  assert.match(metrics, /palisade_capability_calls_total\{fn="charge",kind="egress"\} 2/);
  assert.match(metrics, /palisade_capability_calls_total\{fn="charge",kind="kv-write"\} 2/);
  await platform.close();

  // `palisade invoke`: the same function once, with the same grants and stores (kv count goes on).
  // Run without blocking this process: the test's server must answer the function's fetch.
  const invoked = await runAsync([
    "invoke",
    "charge",
    JSON.stringify({ n: 3, url: `http://127.0.0.1:${port}/charge` }),
    "--app",
    dir,
    "--json",
  ]);
  assert.equal(invoked.status, 0, invoked.stderr + invoked.stdout);
  const report = JSON.parse(invoked.stdout) as {
    result: Record<string, unknown>;
    logs: { message: string }[];
  };
  assert.deepEqual(report.result, {
    status: 200,
    body: "charged",
    count: 3,
    scratch: "n=3",
    denied: "PAL_RUNTIME_DENIED",
  });
  assert.ok(!invoked.stdout.includes(SECRET) && !invoked.stderr.includes(SECRET));

  const perms = spawnSync(process.execPath, [BIN, "permissions", "report", "--app", dir, "--json"], {
    encoding: "utf8",
  });
  assert.equal(perms.status, 0, perms.stderr);
  const [charge] = JSON.parse(perms.stdout) as {
    fn: string;
    granted: { kind: string; grant: string; uses: number }[];
    unused: string[];
    denied: { kind: string; target: string; count: number }[];
  }[];
  assert.equal(charge?.fn, "charge");
  assert.deepEqual(
    charge?.granted.map((g) => [g.kind, g.grant, g.uses]),
    [
      ["secret", "API_TOKEN", 3],
      ["egress", `http://127.0.0.1:${port}`, 3],
      ["egress", "api.stripe.com:443", 0],
      ["kv", "orders (readwrite)", 6],
      ["kv", "prices (read)", 0],
    ],
  );
  assert.deepEqual(charge?.unused, ["egress api.stripe.com:443", "kv prices (read)"]);
  assert.deepEqual(
    charge?.denied.map((d) => [d.kind, d.target, d.count]),
    [["secret", "ADMIN_TOKEN", 3]],
  );
  const textReport = spawnSync(process.execPath, [BIN, "permissions", "report", "--app", dir], {
    encoding: "utf8",
  });
  assert.match(textReport.stdout, /api\.stripe\.com:443\s+never used/);
  assert.match(textReport.stdout, /denied secret ADMIN_TOKEN 3×/);
});

test("palisade invoke refuses bad input with exit 2 and reports a failing handler with exit 1", (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: inv
events:
  t.a: { schema: schemas/n.json }
  t.b: { schema: schemas/n.json }
functions:
  two:
    handler: functions/two.ts
    on: [t.a, t.b]
  fails:
    handler: functions/fails.ts
    on: [t.a]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/two.ts": "export default (e) => ({ got: e.type });",
    "functions/fails.ts": "export default () => { throw new Error('card declined'); };",
  });
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, "invoke", ...args, "--app", dir], { encoding: "utf8" });
  const ambiguous = run("two", '{"n":1}');
  assert.equal(ambiguous.status, 2);
  assert.match(ambiguous.stderr, /subscribes to t\.a, t\.b; say which type with --type/);
  const typed = run("two", '{"n":1}', "--type", "t.b");
  assert.equal(typed.status, 0, typed.stderr);
  assert.match(typed.stdout, /result \{"got":"t\.b"\}/);
  assert.equal(run("nope", "{}").status, 2);
  const badJson = run("two", "{nope");
  assert.equal(badJson.status, 2);
  assert.match(badJson.stderr, /Cannot invoke: the data is not valid JSON/);
  const invalid = run("fails", '{"n":-1}');
  assert.equal(invalid.status, 1);
  assert.match(invalid.stderr, /\/data\/n must be >= 0/);
  const failing = run("fails", '{"n":1}');
  assert.equal(failing.status, 1);
  // The function's own stack, mapped to its source; none of the platform's frames.
  assert.match(failing.stderr, /card declined\n {4}at \S+ \(functions\/fails\.ts:1:\d+\)/);
  assert.doesNotMatch(failing.stderr, /runner|node:internal|\/src\//);
});
