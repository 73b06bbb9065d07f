import type { Limits } from "../manifest/index.ts";

/** Capability calls of one invocation that may wait for a free slot; past this they are refused. */
export const CAPABILITY_QUEUE = 256;

/** The limits a budget enforces, by their manifest names (`functions.<name>.limits.*`). */
export type LimitName = "capabilityCalls" | "emitsPerInvocation" | "fetchBytes" | "kvNamespaceBytes";

/** A fetch's share of `limits.fetchBytes`: bytes are taken as they arrive and released at the end. */
export interface FetchBuffer {
  /** The invocation's whole buffer (`limits.fetchBytes`). */
  readonly limit: number;
  /** Takes `bytes` more; false (taking nothing) when that would go over the invocation's buffer. */
  take(bytes: number): boolean;
  /** Bytes this fetch took in all (its response body as received), kept after `release`. */
  received(): number;
  release(): void;
}

/** What one invocation may still make the host do; the capability host keeps one per invocation. */
export interface InvocationBudget {
  /** Counts an emit; false once `limits.emitsPerInvocation` were made. */
  takeEmit(): boolean;
  /**
   * Runs `op` when fewer than `limits.capabilityCalls` of this invocation's calls are in flight;
   * undefined (and `op` never runs) when CAPABILITY_QUEUE calls are already waiting.
   */
  schedule<T>(op: () => Promise<T>): Promise<T> | undefined;
  fetchBuffer(): FetchBuffer;
  /** True the first time a limit is reported for this invocation (one audit record each). */
  firstReport(limit: LimitName): boolean;
}

/** Creates the budget of one invocation of a function with `limits`. */
export function createInvocationBudget(limits: Limits): InvocationBudget {
  let emits = 0;
  let inFlight = 0;
  let buffered = 0;
  const waiting: (() => void)[] = [];
  const reported = new Set<LimitName>();

  // A finished call hands its slot straight to the next waiting one, so none can overtake it.
  const release = () => {
    const next = waiting.shift();
    if (next === undefined) inFlight--;
    else next();
  };
  const run = <T>(op: () => Promise<T>): Promise<T> => op().finally(release);

  return {
    takeEmit: () => emits++ < limits.emitsPerInvocation,
    schedule(op) {
      if (inFlight < limits.capabilityCalls) {
        inFlight++;
        return run(op);
      }
      if (waiting.length >= CAPABILITY_QUEUE) return undefined;
      return new Promise<void>((resolve) => waiting.push(resolve)).then(() => run(op));
    },
    fetchBuffer() {
      let mine = 0;
      let total = 0;
      return {
        limit: limits.fetchBytes,
        take(bytes) {
          if (buffered + bytes > limits.fetchBytes) return false;
          buffered += bytes;
          mine += bytes;
          total += bytes;
          return true;
        },
        received: () => total,
        release() {
          buffered -= mine;
          mine = 0;
        },
      };
    },
    firstReport(limit) {
      if (reported.has(limit)) return false;
      reported.add(limit);
      return true;
    },
  };
}
