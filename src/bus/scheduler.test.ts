import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { createScheduler, openSqliteStore, type Schedule, ticksBetween } from "./index.ts";

const hourly: Schedule = { name: "h", cron: "0 * * * *", timezone: "UTC", catchUp: false };
const at = (iso: string) => new Date(iso).getTime();

test("ticks between two instants, in the schedule's time zone", () => {
  assert.deepEqual(
    ticksBetween(hourly, at("2026-03-01T10:30:00Z"), at("2026-03-01T13:00:00Z")).map((d) => d.toISOString()),
    ["2026-03-01T11:00:00.000Z", "2026-03-01T12:00:00.000Z", "2026-03-01T13:00:00.000Z"],
  );
  const berlinNine = { ...hourly, cron: "0 9 * * *", timezone: "Europe/Berlin" };
  assert.deepEqual(
    ticksBetween(berlinNine, at("2026-07-01T00:00:00Z"), at("2026-07-02T23:00:00Z")).map((d) =>
      d.toISOString(),
    ),
    ["2026-07-01T07:00:00.000Z", "2026-07-02T07:00:00.000Z"],
  );
});

function logFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-sched-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "events.db");
}

async function restart(t: TestContext, file: string, schedule: Schedule, lastMs: number): Promise<string[]> {
  const log = openSqliteStore(file, { subscriptions: [] });
  t.after(() => log.close());
  await log.state.setCursor(`schedule:${schedule.name}`, lastMs);
  const fired: string[] = [];
  const scheduler = createScheduler({
    schedules: [schedule],
    state: log.state,
    fire: async (_s, when) => void fired.push(when.toISOString()),
  });
  t.after(() => scheduler.close());
  // Catching up (or skipping) ends with the cursor on the last missed tick: wait for that.
  const last = ticksBetween(schedule, lastMs, Date.now()).at(-1)?.getTime();
  for (let i = 0; i < 1000 && (await log.state.cursor(`schedule:${schedule.name}`)) !== last; i++) {
    await new Promise((r) => setImmediate(r));
  }
  return fired;
}

test("after downtime, missed ticks are skipped by default and emitted once each with catchUp", async (t) => {
  // One minute past the hour, three hours ago: exactly three hourly ticks have been missed since.
  const threeHoursAgo = Math.floor(Date.now() / 3600_000) * 3600_000 - 3 * 3600_000 + 60_000;
  const skipped = await restart(t, logFile(t), hourly, threeHoursAgo);
  assert.deepEqual(skipped, []);
  const caught = await restart(t, logFile(t), { ...hourly, name: "c", catchUp: true }, threeHoursAgo);
  assert.equal(caught.length, 3);
  assert.deepEqual(caught, [...new Set(caught)].sort());
});

test("a running schedule loses no tick when one firing outlasts the next tick", async (t) => {
  const log = openSqliteStore(logFile(t), { subscriptions: [] });
  t.after(() => log.close());
  const everySecond: Schedule = { name: "s", cron: "* * * * * *", timezone: "UTC", catchUp: false };
  const fired: number[] = [];
  let done!: () => void;
  const enough = new Promise<void>((r) => {
    done = r;
  });
  const scheduler = createScheduler({
    schedules: [everySecond],
    state: log.state,
    fire: async (_s, when) => {
      fired.push(when.getTime());
      // The first firing is slow (a stalled disk): croner skips the ticks that come meanwhile.
      if (fired.length === 1) await new Promise((r) => setTimeout(r, 2500));
      if (fired.length >= 5) done();
    },
  });
  t.after(() => scheduler.close());
  await enough;
  const gaps = fired.slice(1).map((ms, i) => ms - (fired[i] ?? 0));
  assert.deepEqual(gaps.slice(0, 4), [1000, 1000, 1000, 1000], `ticks fired: ${fired.join(", ")}`);
});

test("of two schedulers on one store, only the lease holder ticks", async (t) => {
  const log = openSqliteStore(logFile(t), { subscriptions: [] });
  t.after(() => log.close());
  const everySecond: Schedule = { name: "one", cron: "* * * * * *", timezone: "UTC", catchUp: false };
  const fired: string[] = [];
  let done!: () => void;
  const enough = new Promise<void>((r) => {
    done = r;
  });
  const start = (holder: string) => {
    const scheduler = createScheduler({
      schedules: [everySecond],
      state: log.state,
      holder,
      fire: async (_s, when) => {
        fired.push(`${holder}@${when.getTime()}`);
        if (fired.length >= 3) done();
      },
    });
    t.after(() => scheduler.close());
  };
  start("node-a");
  start("node-b");
  await enough;
  const ticks = fired.map((f) => f.split("@")[1]);
  assert.equal(new Set(ticks).size, ticks.length, `each tick fired once: ${fired.join(", ")}`);
  assert.equal(new Set(fired.map((f) => f.split("@")[0])).size, 1, "by one holder");
});
