/** How numbers and times read on the page: local time, short durations, grouped counts. */

const TIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const COUNT = new Intl.NumberFormat();

/** A date and time (ms since the epoch or ISO 8601), or "—". */
export function formatTime(at: number | string | null | undefined): string {
  if (at === null || at === undefined) return "—";
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : TIME.format(date);
}

/** A time of day, for live items. */
export function formatClock(at: number): string {
  return CLOCK.format(new Date(at));
}

/** A duration in ms, as `0.42 ms`, `12 ms` or `3.1 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export function formatCount(n: number): string {
  return COUNT.format(n);
}

/** A rate per second, with a digit after the point below 10. */
export function formatRate(perSecond: number): string {
  return perSecond < 10 ? perSecond.toFixed(1) : formatCount(Math.round(perSecond));
}

/** Entries of a count map, largest first. */
export function byCount(counts: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
}
