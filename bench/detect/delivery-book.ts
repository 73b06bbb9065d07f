/**
 * How every simulated delivery ended: each must end exactly once (delivered or dead-lettered after
 * its attempts, held while its scope is held, or cut at the simulation's horizon). One ended twice is
 * a duplicate; one that never ended is lost.
 */

export type Ending = "delivered" | "dead-lettered" | "held" | "cut" | "discarded";

const CODES: readonly Ending[] = ["delivered", "dead-lettered", "held", "cut", "discarded"];

export interface BookTotals {
  created: number;
  ended: Record<Ending, number>;
  /** Deliveries that ended more than once (their later endings). */
  duplicated: number;
  /** Deliveries that never ended (plus any an operator did not discard but the platform did). */
  lost: number;
}

export interface DeliveryBook {
  /** Makes `n` deliveries; returns the index of the first. */
  create(n: number): number;
  /** Records how delivery `index` ended; a held one may end again when released. */
  end(index: number, ending: Ending): void;
  totals(): BookTotals;
}

export function createDeliveryBook(): DeliveryBook {
  let states = new Uint8Array(1 << 16);
  let created = 0;
  let duplicated = 0;
  return {
    create(n) {
      while (created + n > states.length) {
        const bigger = new Uint8Array(states.length * 2);
        bigger.set(states);
        states = bigger;
      }
      created += n;
      return created - n;
    },
    end(index, ending) {
      const code = CODES.indexOf(ending) + 1;
      const now = states[index] ?? 0;
      // A held delivery ends again when its hold is lifted: that is its one run, not a duplicate.
      if (now !== 0 && now !== CODES.indexOf("held") + 1) duplicated += 1;
      else states[index] = code;
    },
    totals() {
      const ended = Object.fromEntries(CODES.map((c) => [c, 0])) as Record<Ending, number>;
      let lost = 0;
      for (let i = 0; i < created; i++) {
        const s = states[i] ?? 0;
        const ending = CODES[s - 1];
        if (ending === undefined || ending === "discarded") lost += 1;
        if (ending !== undefined) ended[ending] += 1;
      }
      return { created, ended, duplicated, lost };
    },
  };
}
