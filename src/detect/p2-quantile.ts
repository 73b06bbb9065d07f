/** A streaming estimate of one quantile of what it was given, in constant memory. */
export interface P2Quantile {
  /** Adds one observation. */
  add(x: number): void;
  /** The estimate now; NaN before the first observation. */
  value(): number;
  /** Observations added. */
  count(): number;
}

/**
 * The P² algorithm (Jain & Chlamtac, "The P² algorithm for dynamic calculation of quantiles and
 * histograms without storing observations", CACM 28(10), 1985): five markers (minimum, p/2, p,
 * (1+p)/2, maximum) whose heights follow the quantiles as observations come, each moved at most one
 * position per observation by piecewise-parabolic (else linear) interpolation. Five numbers of
 * state whatever the stream's length; until five observations came, the exact sample quantile.
 */
export function createP2Quantile(p: number): P2Quantile {
  const heights: number[] = [];
  const positions = [0, 1, 2, 3, 4];
  const desired = [0, 2 * p, 4 * p, 2 + 2 * p, 4];
  const step = [0, p / 2, p, (1 + p) / 2, 1];
  let n = 0;
  const q = (i: number) => heights[i] ?? 0;
  const at = (i: number) => positions[i] ?? 0;

  const parabolic = (i: number, d: number): number =>
    q(i) +
    (d / (at(i + 1) - at(i - 1))) *
      ((at(i) - at(i - 1) + d) * ((q(i + 1) - q(i)) / (at(i + 1) - at(i))) +
        (at(i + 1) - at(i) - d) * ((q(i) - q(i - 1)) / (at(i) - at(i - 1))));
  const linear = (i: number, d: number): number => q(i) + (d * (q(i + d) - q(i))) / (at(i + d) - at(i));

  /** Moves the middle markers towards their desired positions, at most one step each. */
  const adjust = () => {
    for (let i = 1; i <= 3; i++) {
      const off = (desired[i] ?? 0) - at(i);
      if ((off >= 1 && at(i + 1) - at(i) > 1) || (off <= -1 && at(i - 1) - at(i) < -1)) {
        const d = Math.sign(off);
        const candidate = parabolic(i, d);
        heights[i] = q(i - 1) < candidate && candidate < q(i + 1) ? candidate : linear(i, d);
        positions[i] = at(i) + d;
      }
    }
  };

  return {
    add(x) {
      n += 1;
      if (n <= 5) {
        heights.push(x);
        heights.sort((a, b) => a - b);
        return;
      }
      // The cell x falls in; the extreme markers take a new minimum or maximum.
      let cell: number;
      if (x < q(0)) {
        heights[0] = x;
        cell = 0;
      } else if (x >= q(4)) {
        heights[4] = Math.max(q(4), x);
        cell = 3;
      } else {
        cell = 0;
        while (x >= q(cell + 1)) cell += 1;
      }
      for (let i = cell + 1; i < 5; i++) positions[i] = at(i) + 1;
      for (let i = 0; i < 5; i++) desired[i] = (desired[i] ?? 0) + (step[i] ?? 0);
      adjust();
    },
    value() {
      if (n === 0) return Number.NaN;
      if (n > 5) return q(2);
      // Fewer than five: the sample quantile, by the nearest rank.
      return q(Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1)));
    },
    count: () => n,
  };
}
