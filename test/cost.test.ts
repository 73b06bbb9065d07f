/**
 * Cost budgets against a running platform: real sandboxes, real HTTP, the real CLI in a child
 * process. Each attempt reserves its most before it starts and settles what it used after; a
 * function or a principal whose daily budget cannot take another attempt has its work held
 * (pending, never attempted, never dropped); a principal set to `reject` is refused with 429 at
 * ingress. `palisade cost` shows the spend.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { palisade, sleep, waitUntil } from "./kit/cli-run.ts";
import { OTHER_KEY, startTwoSenderApp, twoSenders } from "./kit/two-senders.ts";

/**
 * At the default prices an attempt of `work` (128 MB, timeout 1 s, a small event) reserves about
 * 3,300 nano-dollars (a request, one second at 128 MB, one 64 KiB chunk) and settles at about
 * 1,200 (its few milliseconds): a budget of $0.00001 takes five or six of them.
 */
const APP = `name: costs
events:
  job.queued: { schema: schemas/n.json }
  job.other: { schema: schemas/n.json }
${twoSenders(["job.queued"], ["job.other"], "    costPerDay: 0.000005\n    overBudget: reject\n")}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    limits: { timeoutMs: 1000, memoryMb: 128, concurrency: 1, costPerDay: 0.00001 }
  side:
    handler: functions/work.ts
    on: [job.other]
    limits: { timeoutMs: 1000, memoryMb: 128, concurrency: 1 }
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.budget-exceeded]
`;

function startCostApp(t: TestContext) {
  return startTwoSenderApp(t, {
    "palisade.yaml": APP,
    "functions/work.ts": 'export default (e, ctx) => ctx.log.info("worked", { n: e.data.n });',
    "functions/watcher.ts":
      'export default (e, ctx) => ctx.log.info("budget seen", { target: e.data.function, principal: e.data.principal, budget: e.data.budget, limitUsd: e.data.limitUsd });',
  });
}

interface Spend {
  day: string;
  rows: { kind: string; name: string; spentUsd: number; attempts: number; budgetUsd: number | null }[];
}

test("a function's daily spend budget holds its further work, losslessly, and palisade cost shows the spend", async (t) => {
  const { dir, logs, platform, send } = await startCostApp(t);
  const ids: string[] = [];
  for (let n = 0; n < 10; n++) ids.push((await send("job.queued", n)).body.ids[0]);
  const seen = await logs.waitFor((l) => l.msg === "budget seen");
  assert.deepEqual([seen.target, seen.budget, seen.limitUsd], ["work", "costPerDay", 0.00001]);
  await sleep(500); // let any (wrong) attempt past the budget show up
  const states = await Promise.all(
    ids.map(
      async (id) => (await platform.store.queue.deliveries(id)).map((d) => `${d.state}:${d.attempts}`)[0],
    ),
  );
  const ran = states.filter((s) => s === "delivered:1").length;
  const held = states.filter((s) => s === "pending:0").length;
  assert.equal(ran + held, 10, `each either ran once or waits, never attempted: ${states.join(" ")}`);
  assert.ok(ran >= 3 && ran <= 8, `the budget took some attempts (${ran})`);
  assert.ok(held >= 2, `the rest wait (${held})`);
  assert.equal(logs.lines.filter((l) => l.fn === "work" && l.msg === "worked").length, ran);

  // The spend reaches the shared counters within a flush; it never passes the budget (each
  // attempt reserved its most before it started, and used no egress or capability calls).
  let spend: Spend | undefined;
  await waitUntil("the spend to be written", async () => {
    const run = await palisade(["cost", "--app", dir, "--json"]);
    assert.equal(run.status, 0, run.stderr);
    spend = JSON.parse(run.stdout) as Spend;
    return spend.rows.find((r) => r.name === "work")?.attempts === ran;
  });
  const work = spend?.rows.find((r) => r.kind === "function" && r.name === "work");
  assert.equal(work?.budgetUsd, 0.00001);
  assert.ok((work?.spentUsd ?? 0) > 0 && (work?.spentUsd ?? 1) <= 0.00001, `spent ${work?.spentUsd}`);
  const tester = spend?.rows.find((r) => r.kind === "principal" && r.name === "tester");
  assert.equal(tester?.attempts, ran, "the principal whose events started the chains pays for them");
  const text = await palisade(["cost", "--app", dir]);
  assert.match(text.stdout, /function\s+work\s+\$0\.0000\d+\s+\d+ attempts\s+of \$0\.00001000 \(\d+ %\)/);
  const bad = await palisade(["cost", "--app", dir, "--day", "yesterday"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--day "yesterday" is not a date; give a UTC day as YYYY-MM-DD/);
});

test("a principal over its spend budget set to reject gets 429 at ingress; what it sent before is kept", async (t) => {
  const { platform, send } = await startCostApp(t);
  const accepted: string[] = [];
  let refused: Awaited<ReturnType<typeof send>> | undefined;
  for (let n = 0; n < 50 && refused === undefined; n++) {
    const res = await send("job.other", n, OTHER_KEY);
    if (res.status === 202) accepted.push(res.body.ids[0]);
    else refused = res;
    await sleep(100);
  }
  assert.ok(refused, "refused once its budget could take no more");
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, "PAL_GATEWAY_OVER_BUDGET");
  assert.match(refused.body.error.message, /principals\.other\.costPerDay/);
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  // Another principal is not refused.
  assert.equal((await send("job.queued", 1)).status, 202);
  // Nothing it sent before is lost: each ran once or waits, pending.
  for (const id of accepted) {
    const [d] = await platform.store.queue.deliveries(id);
    assert.ok(d?.state === "delivered" || (d?.state === "pending" && d.attempts === 0), `${id}: ${d?.state}`);
  }
});
