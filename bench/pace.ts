/**
 * Open-loop pacing shared by the bench's senders: request `i` is due at `start + i / rate`, and
 * everything due goes out at once, whatever is still in flight (a slow server does not slow the
 * sender, so queueing shows up as latency). Times are epoch milliseconds, comparable across processes.
 */
import { performance } from "node:perf_hooks";

/** Milliseconds since the epoch with sub-millisecond resolution. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/**
 * Calls `fire(i)` for i = 0 … total − 1 at `rate` per second from `start`; `lag(i, ms)` is told how
 * late the first of each burst went out. Resolves once the last one was fired (not answered).
 */
export function paceOpenLoop(
  rate: number,
  total: number,
  start: number,
  fire: (i: number) => void,
  lag: (i: number, ms: number) => void = () => {},
): Promise<void> {
  const interval = 1000 / rate;
  return new Promise<void>((resolve) => {
    let next = 0;
    const tick = (): void => {
      const now = epochNow();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      if (next < due) lag(next, now - (start + next * interval));
      for (; next < due; next += 1) fire(next);
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - epochNow()));
      else resolve();
    };
    tick();
  });
}
