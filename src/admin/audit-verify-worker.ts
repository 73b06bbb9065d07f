/**
 * Verifies the app's audit file in a worker thread (`verifyFileAuditOffLoop`): the walk over every
 * record and checkpoint is synchronous, and must not hold up the gateway's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { verifyFileAudit } from "./audit-view.ts";

const { appDir } = workerData as { appDir: string };
try {
  parentPort?.postMessage({ result: verifyFileAudit(appDir) });
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message });
}
