import { hostname } from "node:os";
import { Cron } from "croner";
import type { SharedState } from "./store.ts";

/** A cron schedule as the scheduler needs it. */
export interface Schedule {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly catchUp: boolean;
}

export interface SchedulerOptions<S extends Schedule> {
  schedules: readonly S[];
  /** Where each schedule's last tick and its lease live (shared by every node). */
  state: SharedState;
  /** Who this process is to the leases. @default host and pid */
  holder?: string;
  /** Emits the event of one tick; must be idempotent per (schedule, tick). */
  fire: (schedule: S, at: Date) => Promise<void>;
  onError?: (err: unknown) => void;
}

const CATCH_UP_LIMIT = 1000;
/** How long a node keeps a schedule after its last tick: another takes over within this when it dies. */
const LEASE_MS = 30_000;
/** Ticks a running schedule makes up after a stall before it treats the stall as downtime. */
const MAX_LATE_TICKS = 60;

/** Ticks of `cron` after `lastMs` up to `nowMs`, oldest first (at most `limit`). */
export function ticksBetween(
  schedule: Schedule,
  lastMs: number,
  nowMs: number,
  limit = CATCH_UP_LIMIT,
): Date[] {
  const cron = new Cron(schedule.cron, { timezone: schedule.timezone, paused: true });
  try {
    return cron.nextRuns(limit, new Date(lastMs)).filter((d) => d.getTime() <= nowMs);
  } finally {
    cron.stop();
  }
}

/**
 * Runs cron schedules. Each schedule's last emitted tick is a durable cursor in shared state, so a
 * tick is emitted once across restarts: after downtime, missed ticks are emitted once each when
 * `catchUp`, and skipped otherwise (no burst). A new schedule starts from now. Of many nodes, only
 * the holder of a schedule's lease ticks it. Event ids are derived from the tick, so a crash between
 * emitting and recording the cursor (or two nodes in a lease hand-over) cannot duplicate an event.
 */
export function createScheduler<S extends Schedule>(options: SchedulerOptions<S>): { close(): void } {
  const { state } = options;
  const holder = options.holder ?? `${hostname()}:${process.pid}`;
  const jobs: Cron[] = [];
  let closed = false;

  async function fire(schedule: S, at: Date): Promise<void> {
    await options.fire(schedule, at);
    await state.setCursor(cursorOf(schedule), at.getTime());
  }

  const lead = (schedule: S) => state.lease(cursorOf(schedule), holder, LEASE_MS);

  async function catchUp(schedule: S): Promise<void> {
    const now = Date.now();
    const last = await state.cursor(cursorOf(schedule));
    if (last === 0) {
      await state.setCursor(cursorOf(schedule), now);
    } else {
      const missed = ticksBetween(schedule, last, now);
      if (schedule.catchUp) for (const at of missed) await fire(schedule, at);
      else if (missed.length > 0) await state.setCursor(cursorOf(schedule), missed.at(-1)?.getTime() ?? now);
    }
  }

  async function start(schedule: S): Promise<void> {
    if (await lead(schedule)) await catchUp(schedule);
    if (closed) return;
    // While running, no tick is lost: a callback that croner skipped (the previous one was still
    // writing, or the loop was busy past a tick) is made up by the next, which fires every tick
    // since the cursor, in order. Ids derive from the tick, so a tick fired twice is stored once.
    const job = new Cron(schedule.cron, { timezone: schedule.timezone, protect: true }, async () => {
      const run = job.currentRun();
      if (run === null) return;
      // croner fires a few ms late; the tick is the scheduled second.
      const at = Math.floor(run.getTime() / 1000) * 1000;
      try {
        if (!(await lead(schedule))) return; // another node ticks it
        // Read each time: the node that held the lease before may have moved it on.
        const cursor = await state.cursor(cursorOf(schedule));
        // 0: never started (the node that first held it died at once): from this tick on.
        const late = ticksBetween(schedule, cursor === 0 ? at - 1 : cursor, at);
        // A long stall (a suspended host) is downtime: without catchUp only its last tick fires.
        const due = schedule.catchUp || late.length <= MAX_LATE_TICKS ? late : late.slice(-1);
        for (const tick of due) await fire(schedule, tick);
      } catch (err) {
        options.onError?.(err);
      }
    });
    jobs.push(job);
  }

  for (const schedule of options.schedules)
    void start(schedule).catch((err: unknown) => options.onError?.(err));
  return {
    close() {
      closed = true;
      for (const job of jobs) job.stop();
      // Handed back at once (a lease of 0 ms lapses now), so a restarted node need not wait it out.
      for (const schedule of options.schedules)
        (async () => state.lease(cursorOf(schedule), holder, 0))().catch(() => undefined); // best effort
    },
  };
}

function cursorOf(schedule: Schedule): string {
  return `schedule:${schedule.name}`;
}
