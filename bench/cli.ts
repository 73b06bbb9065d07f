/** `npm run bench:cli`: the CLI answer times alone (see cli-start.ts), on a fresh bench app. */
import { rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { reportCliStart, runCliStart } from "./cli-start.ts";
import { createBenchApp } from "./e2e.ts";

console.log(`palisade bench:cli — node ${process.version}, ${availableParallelism()} cores`);
const appDir = createBenchApp();
try {
  reportCliStart(await runCliStart(appDir));
} finally {
  rmSync(appDir, { recursive: true, force: true });
}
