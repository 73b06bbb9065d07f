/**
 * The timers of a running app: archive retention (finished events older than `retentionDays` go, at
 * start and every hour) and the gauges that are read rather than counted (pool sizes, pending
 * deliveries, DLQ depth), refreshed every few seconds.
 */
import type { Maintenance } from "./bus/index.ts";
import { toPalisadeError } from "./errors.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import type { SandboxPool } from "./runtime/index.ts";

/** How often the pool-size, pending and DLQ gauges are refreshed. */
const GAUGE_MS = 2000;
const PRUNE_MS = 3_600_000;

/** Starts pruning and gauge refreshes for `app`; the returned function stops both. */
export function startHousekeeping(parts: {
  app: AppModel;
  maintenance: Maintenance;
  pools: ReadonlyMap<string, SandboxPool>;
  metrics: Metrics;
  logger: Logger;
}): () => void {
  const { app, maintenance, pools, metrics, logger } = parts;
  const prune = () =>
    maintenance
      .prune(Date.now() - app.retentionDays * 86_400_000)
      .then((n) => n > 0 && logger.info({ events: n }, "pruned events past their retention"))
      .catch((err: unknown) => logger.error({ err: toPalisadeError(err).message }, "pruning failed"));
  void prune();
  const pruner = setInterval(prune, PRUNE_MS);
  pruner.unref();
  const gauges = setInterval(() => {
    for (const [fn, pool] of pools) metrics.poolSize.set({ fn }, pool.size());
    maintenance
      .stateCounts()
      .then(({ pending, failed }) => {
        metrics.pendingDeliveries.set(pending);
        metrics.dlqDepth.set(failed);
      })
      .catch(() => undefined); // closing
  }, GAUGE_MS);
  gauges.unref();
  return () => {
    clearInterval(pruner);
    clearInterval(gauges);
  };
}
