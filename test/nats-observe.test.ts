/**
 * `permissions report` and `traces` with `--nats`: a gateway and a worker on one deployment record
 * capability use and spans on NATS (not in the app directory's files), and the operator commands
 * read them back merged from every process.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BIN } from "./kit/cli-process.ts";
import { post } from "./kit/http.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { logged, scaleOutApp, startRole, until } from "./kit/scale-out.ts";

const LAZY = ["--accept-lazy-fsync"];

interface Span {
  traceId: string;
  spanId: string;
  parentId: string | null;
  name: string;
  node?: string;
}
interface Permissions {
  fn: string;
  granted: { kind: string; grant: string; uses: number }[];
}

/** Runs `palisade <args>` and parses its JSON output (exit 0 required). */
function palisadeJson<T>(...args: string[]): T {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

/** Polls `read` (a CLI run, so every 300 ms) until `done` holds of its result. */
async function poll<T>(read: () => T, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test("permissions report and traces with --nats show what the gateway and the worker recorded", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0);
  const gateway = await startRole(t, "gateway", dir, nats.url, LAZY);
  const worker = await startRole(t, "worker", dir, nats.url, LAZY);
  const n = 3;
  for (let i = 0; i < n; i++)
    assert.equal((await post(`${gateway.url}/events`, { type: "job.queued", data: { n: i } })).status, 202);
  await until(() => new Set(logged([worker], "counted")).size === n, `${n} emits counted`);

  // The worker's ctx.emit("job.done") calls, counted on NATS (written every 2 s).
  const emits = (report: Permissions[]) =>
    report.find((f) => f.fn === "work")?.granted.find((g) => g.kind === "emit" && g.grant === "job.done")
      ?.uses;
  const report = await poll(
    () => palisadeJson<Permissions[]>("permissions", "report", "--nats", nats.url, "--app", dir, "--json"),
    (r) => emits(r) === n,
    `${n} emits of job.done in the report`,
  );
  assert.equal(emits(report), n);
  // Not from the app directory's files: there, nothing was recorded.
  assert.equal(emits(palisadeJson<Permissions[]>("permissions", "report", "--app", dir, "--json")), 0);

  // A trace that crossed both processes: the gateway's ingress, the worker's delivery under it.
  const pidOf = (s: Span) => Number(s.node?.split(" ").at(-1));
  const crossed = (spans: Span[]) =>
    [...new Set(spans.map((s) => s.traceId))].find((id) => {
      const pids = new Set(spans.filter((s) => s.traceId === id).map(pidOf));
      return pids.has(gateway.child.pid ?? -1) && pids.has(worker.child.pid ?? -1);
    });
  const recent = await poll(
    () => palisadeJson<Span[]>("traces", "--nats", nats.url, "--app", dir, "--json"),
    (spans) => crossed(spans) !== undefined,
    "a trace with spans of the gateway and the worker",
  );
  const id = crossed(recent) ?? "";
  const tree = palisadeJson<Span[]>("traces", "--nats", nats.url, "--app", dir, "--id", id, "--json");
  assert.ok(tree.every((s) => s.traceId === id));
  const ingress = tree.find((s) => s.name.startsWith("ingress "));
  const invoke = tree.find((s) => s.name === "invoke work");
  assert.ok(ingress && invoke, JSON.stringify(tree.map((s) => s.name)));
  assert.equal(pidOf(ingress), gateway.child.pid);
  assert.equal(pidOf(invoke), worker.child.pid);
  assert.match(String(ingress.node), /^gateway /);
  assert.match(String(invoke.node), /^worker /);
  // The worker's spans hang under the gateway's: one tree, rooted at the ingress span.
  const byId = new Map(tree.map((s) => [s.spanId, s]));
  let up: Span | undefined = invoke;
  while (up?.parentId !== null && up?.parentId !== undefined && byId.has(up.parentId))
    up = byId.get(up.parentId);
  assert.equal(up?.spanId, ingress.spanId);
  // And the tree prints, naming each span's process.
  const printed = spawnSync(process.execPath, [BIN, "traces", "--nats", nats.url, "--app", dir, "--id", id], {
    encoding: "utf8",
  });
  assert.equal(printed.status, 0, printed.stderr);
  assert.match(printed.stdout, new RegExp(`invoke work \\[work\\] \\(worker \\S+ ${worker.child.pid}\\)`));
});
