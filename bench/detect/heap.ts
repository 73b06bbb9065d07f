/** A binary min-heap of timed actions: the discrete-event loop of the simulations (no real sleeping). */

interface Entry {
  at: number;
  seq: number;
  run: () => void;
}

export interface Clock {
  /** Simulated time now (epoch ms): what the detectors get as `now`. */
  now(): number;
  /** Runs `run` at simulated time `at` (ties in the order scheduled). */
  at(at: number, run: () => void): void;
  /** Runs every scheduled action in time order, including those they schedule. */
  drain(): void;
}

export function createClock(start: number): Clock {
  const heap: Entry[] = [];
  let now = start;
  let seq = 0;
  const less = (a: Entry, b: Entry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  const push = (e: Entry): void => {
    heap.push(e);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      const [c, p] = [heap[i] as Entry, heap[parent] as Entry];
      if (!less(c, p)) break;
      heap[i] = p;
      heap[parent] = c;
      i = parent;
    }
  };
  const pop = (): Entry | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    for (let i = 0; ; ) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      let m = i;
      if (l < heap.length && less(heap[l] as Entry, heap[m] as Entry)) m = l;
      if (r < heap.length && less(heap[r] as Entry, heap[m] as Entry)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as Entry, heap[i] as Entry];
      i = m;
    }
    return top;
  };
  return {
    now: () => now,
    at(at, run) {
      push({ at: Math.max(at, now), seq: seq++, run });
    },
    drain() {
      for (let e = pop(); e !== undefined; e = pop()) {
        now = e.at;
        e.run();
      }
    },
  };
}
