/**
 * Throughput from counters: the overview's numbers are totals since the process started, so each new
 * reading minus the one before, over the time between them, is a rate. A restarted platform (a total
 * that went down) starts the series again.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { MetricsSummary } from "./types.ts";

/** Readings of each rate kept for the sparklines. */
const KEEP = 30;

export interface Rates {
  /** Events accepted per second, oldest first. */
  readonly accepted: readonly number[];
  /** Deliveries that succeeded per second, oldest first. */
  readonly delivered: readonly number[];
}

export function useRates(summary: MetricsSummary | undefined): Rates {
  const previous = useRef<MetricsSummary | undefined>(undefined);
  const [rates, setRates] = useState<Rates>({ accepted: [], delivered: [] });
  useEffect(() => {
    if (summary === undefined) return;
    const before = previous.current;
    previous.current = summary;
    if (before === undefined || summary.at <= before.at) return;
    const seconds = (summary.at - before.at) / 1000;
    const accepted = summary.accepted - before.accepted;
    const delivered = summary.deliveries.delivered - before.deliveries.delivered;
    if (accepted < 0 || delivered < 0) {
      setRates({ accepted: [], delivered: [] });
      return;
    }
    setRates((r) => ({
      accepted: [...r.accepted, accepted / seconds].slice(-KEEP),
      delivered: [...r.delivered, delivered / seconds].slice(-KEEP),
    }));
  }, [summary]);
  return rates;
}
