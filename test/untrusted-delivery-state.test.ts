/**
 * Stored delivery state is not trusted: someone with write access to `.palisade/events.db` (but not
 * the keys) flips bytes in a sealed event or plants delivery rows. Each such delivery is refused on
 * its own (dead-lettered with its reason, audited, never run) and everything else keeps flowing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { AUDIT_FILE, readAudit } from "../src/audit/index.ts";
import { createEvent } from "../src/events/index.ts";
import { openAppStore, type Platform, startPlatform } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const WORK = `export default (e, ctx) => { ctx.log.info("ran", { n: e.data.n, type: e.type }); };`;

function app(t: TestContext): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: untrusted
events:
  job.queued: { schema: schemas/n.json }
  admin.reset: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
  audit-trail:
    handler: functions/work.ts
    on: [job.queued]
    filter: { data: { n: [{ "anything-but": 999 }] } }
  admin:
    handler: functions/work.ts
    on: [admin.reset]
    secrets: [TEST_KEY]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/work.ts": WORK,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}

/** Appends `job.queued` events with ids `e<n>` to the app's log, as an earlier run would have. */
async function appendJobs(dir: string, ns: number[]): Promise<void> {
  const log = await openAppStore(loadApp(dir));
  const origin = { principal: "tester", source: "/test", hop: 0 };
  await log.events.append(
    ns.map((n) => createEvent({ type: "job.queued", data: { n }, id: `e${n}` }, origin)),
  );
  await log.close();
}

const palisade = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

/** Changes the events file with plain SQL, as an attacker with disk access (no keys) could. */
function tamper(dir: string, sql: string, ...params: (string | number | null)[]): void {
  const db = new DatabaseSync(join(dir, ".palisade", "events.db"));
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

async function start(t: TestContext, dir: string) {
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const ran = (fn: string) => logs.lines.filter((l) => l.msg === "ran" && l.fn === fn).map((l) => l.eventId);
  return { platform, logs, ran };
}

/** The platform still takes and delivers new events after the refusals. */
async function stillFlows(platform: Platform, logs: ReturnType<typeof captureLogs>): Promise<void> {
  const sent = await post(`${platform.url}/events`, { type: "job.queued", data: { n: 7 } });
  assert.equal(sent.status, 202);
  const id = sent.body.ids[0];
  await logs.waitFor((l) => l.msg === "delivered" && l.eventId === id && l.fn === "work");
  await logs.waitFor((l) => l.msg === "delivered" && l.eventId === id && l.fn === "audit-trail");
}

/** The audit's `delivery.refused` records: [function, event id, reason, outcome, error]. */
function refusals(dir: string): string[][] {
  return readAudit(join(dir, AUDIT_FILE))
    .filter((r) => r.kind === "delivery.refused")
    .map((r) => [r.subject, r.details?.eventId, r.details?.reason, r.outcome, r.details?.error].map(String));
}

test("a flipped byte in one sealed event dead-letters just its deliveries as corrupt, audited; all others flow", async (t) => {
  const dir = app(t);
  await appendJobs(dir, [1, 2, 3]);
  const body = (() => {
    const db = new DatabaseSync(join(dir, ".palisade", "events.db"));
    t.after(() => db.close());
    return String(db.prepare("SELECT body FROM events WHERE id = 'e2'").get()?.body);
  })();
  const at = body.length - 30; // inside the ciphertext, after "pal1.<version>."
  const flipped = `${body.slice(0, at)}${body[at] === "A" ? "B" : "A"}${body.slice(at + 1)}`;
  tamper(dir, "UPDATE events SET body = ? WHERE id = 'e2'", flipped);

  const { platform, logs, ran } = await start(t, dir);
  await logs.waitFor(() => ran("work").length === 2 && ran("audit-trail").length === 2, 20_000);
  await stillFlows(platform, logs);
  assert.deepEqual(ran("work").slice(0, 2), ["e1", "e3"], "the events after the corrupt one were delivered");
  assert.deepEqual(ran("audit-trail").slice(0, 2), ["e1", "e3"]);
  assert.ok(!ran("work").includes("e2") && !ran("audit-trail").includes("e2"));
  const dead = (await platform.store.queue.deadLetters(10)).map((d) => [d.eventId, d.target, d.reason]);
  assert.deepEqual(dead.sort(), [
    ["e2", "audit-trail", "corrupt"],
    ["e2", "work", "corrupt"],
  ]);
  await platform.close();
  const audited = refusals(dir).sort();
  assert.deepEqual(
    audited.map((r) => r.slice(0, 4)),
    [
      ["audit-trail", "e2", "corrupt", "denied"],
      ["work", "e2", "corrupt", "denied"],
    ],
  );
  assert.match(audited[0]?.[4] ?? "", /Cannot read event "e2"/);

  // The operator's tools show it and step over it instead of stopping at it.
  assert.match(palisade(["dlq", "list", "--app", dir]).stdout, /work\s+job\.queued\s+e2\s+corrupt/);
  const requeue = palisade(["dlq", "replay", "--all", "--app", dir]);
  assert.match(requeue.stderr, /refused e2 → work: its stored event does not open/);
  assert.match(requeue.stdout, /requeued 0 of 2/);
  const replay = palisade(["replay", "--since", "1h", "--app", dir]);
  assert.equal(replay.status, 0, replay.stderr);
  assert.match(replay.stderr, /skipped event at position 2/);
  assert.match(replay.stdout, /replayed 6 deliveries of 3 events/);
});

test("delivery rows planted for a privileged function (no code, a forged one, one copied from another row) are refused and audited, never run; others flow", async (t) => {
  const dir = app(t);
  await appendJobs(dir, [1, 2, 3]);
  const first = await start(t, dir);
  await first.logs.waitFor(() => first.ran("work").length === 3 && first.ran("audit-trail").length === 3);
  await first.platform.close();

  const seq = `(SELECT seq FROM events WHERE id = ?)`;
  const plant = `INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac)
    VALUES (${seq}, 'admin', 'pending', 0, 0, 0, ?)`;
  tamper(dir, plant, "e1", null); // no code
  tamper(dir, plant, "e2", "A".repeat(43)); // a forged code
  const copied = `INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac)
    SELECT seq, 'admin', 'pending', 0, 0, 0, mac FROM deliveries WHERE seq = ${seq} AND target = 'work'`;
  tamper(dir, copied, "e3"); // the valid code of e3's delivery to "work"

  const { platform, logs, ran } = await start(t, dir);
  await logs.waitFor(() => refusedOf(logs).length === 3);
  await stillFlows(platform, logs);
  assert.deepEqual(ran("admin"), [], "the privileged function never ran a planted delivery");
  const dead = (await platform.store.queue.deadLetters(10)).map((d) => [d.eventId, d.target, d.reason]);
  assert.deepEqual(dead.sort(), [
    ["e1", "admin", "unauthenticated"],
    ["e2", "admin", "unauthenticated"],
    ["e3", "admin", "unauthenticated"],
  ]);
  await platform.close();
  assert.deepEqual(
    refusals(dir)
      .map((r) => r.slice(0, 4))
      .sort(),
    [
      ["admin", "e1", "unauthenticated", "denied"],
      ["admin", "e2", "unauthenticated", "denied"],
      ["admin", "e3", "unauthenticated", "denied"],
    ],
  );
});

test("an authentic row for a type the function does not subscribe to now is refused at invoke time, audited", async (t) => {
  const dir = app(t);
  await appendJobs(dir, [1, 2]);
  // Rows the platform itself signed (routing under an older manifest, or a signing key misused):
  // "admin" is sent job.queued events, which the current manifest does not subscribe it to.
  const log = await openAppStore(loadApp(dir));
  const stored = await log.events.read(0, 10);
  await log.queue.replay(stored[0]?.seq ?? 0, "admin", { by: "older-manifest", at: Date.now() });
  await log.close();

  const { platform, logs, ran } = await start(t, dir);
  await logs.waitFor(() => refusedOf(logs).length === 1);
  await stillFlows(platform, logs);
  assert.deepEqual(ran("admin"), []);
  const [dead] = await platform.store.queue.deadLetters(10);
  assert.deepEqual([dead?.eventId, dead?.target, dead?.reason], ["e1", "admin", "not-subscribed"]);
  assert.match(dead?.error ?? "", /does not subscribe to "job\.queued"/);
  await platform.close();
  assert.deepEqual(
    refusals(dir).map((r) => r.slice(0, 4)),
    [["admin", "e1", "not-subscribed", "denied"]],
  );
});

test("a log from before delivery rows were authenticated keeps its pending deliveries", async (t) => {
  const dir = app(t);
  await appendJobs(dir, [1, 2]);
  // appendJobs routed them (pending for "work" and "audit-trail"), with codes.
  // The files as an earlier version left them: no codes, and no marker saying there were any.
  tamper(dir, "ALTER TABLE deliveries DROP COLUMN mac");
  rmSync(join(dir, ".palisade", "events.db.authenticated"));

  const { platform, logs, ran } = await start(t, dir);
  await logs.waitFor(() => ran("work").length === 2 && ran("audit-trail").length === 2);
  await stillFlows(platform, logs);
  assert.deepEqual(await platform.store.queue.deadLetters(10), []);
});

test("a row planted after the authentication codes were dropped: the start is refused and it never runs", async (t) => {
  const dir = app(t);
  await appendJobs(dir, [1, 2]);
  const first = await start(t, dir);
  await first.logs.waitFor(() => first.ran("work").length === 2);
  await first.platform.close();
  tamper(
    dir,
    `INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac)
     VALUES ((SELECT seq FROM events WHERE id = 'e1'), 'admin', 'pending', 0, 0, 0, NULL)`,
  );
  tamper(dir, "ALTER TABLE deliveries DROP COLUMN mac"); // as if from before rows had codes

  const logs = captureLogs();
  await assert.rejects(startPlatform({ appDir: dir, logger: logs.logger, port: 0 }), {
    code: "PAL_BUS_DELIVERY_STATE_TAMPERED",
    message: /event log ".*events\.db".*tampered with\. Restore the event log from a backup/,
  });
  assert.equal(logs.lines.filter((l) => l.msg === "ran").length, 0, "nothing ran, the planted row least");
  const db = new DatabaseSync(join(dir, ".palisade", "events.db"));
  const columns = db.prepare("SELECT name FROM pragma_table_info('deliveries')").all();
  db.close();
  assert.ok(!columns.some((c) => c.name === "mac"), "the planted row was not signed");

  // With the marker deleted as well, the rows are signed, but never silently.
  rmSync(join(dir, ".palisade", "events.db.authenticated"));
  const { platform, logs: again } = await start(t, dir);
  await platform.close();
  assert.ok(
    again.lines.some((l) => l.msg.startsWith("delivery rows without authentication codes were signed")),
  );
  const signed = readAudit(join(dir, AUDIT_FILE)).filter((r) => r.kind === "delivery.rows-signed");
  assert.deepEqual(
    signed.map((r) => [r.subject, r.details?.rows]),
    [["events.db", 5]], // 2 events × 2 subscribers, and the planted row
  );
});

function refusedOf(logs: ReturnType<typeof captureLogs>) {
  return logs.lines.filter((l) => l.msg === "delivery failed");
}
