/** Small statistics and formatting helpers for the benchmark (no measurement logic here). */

export interface Summary {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
}

/** Summarises per-operation durations given in nanoseconds, reported in microseconds. */
export function summarize(samplesNs: readonly number[]): Summary {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, v) => sum + v, 0);
  return {
    count: sorted.length,
    meanUs: round(total / Math.max(1, sorted.length) / 1000, 3),
    p50Us: round(quantile(sorted, 0.5) / 1000, 3),
    p99Us: round(quantile(sorted, 0.99) / 1000, 3),
  };
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending `sorted` (nearest rank, 0 when empty); q = 1 is the max. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** a / b, or 0 when b is 0 (so the JSON line never holds Infinity or NaN). */
export function ratio(a: number, b: number, digits = 3): number {
  return b === 0 ? 0 : round(a / b, digits);
}

/** A rate as a whole number with thousands separators: `12,345`. */
export function perSecond(n: number): string {
  return round(n, 0).toLocaleString("en-US");
}

/** A ratio as `0.537x`. */
export function times(n: number): string {
  return `${n.toFixed(3)}x`;
}

/** Prints rows as an aligned plain-text table. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
