import type { TestContext } from "node:test";
import { TEST_KEY } from "./http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./temp-app.ts";

/**
 * An app with two functions, `alpha` and `beta`, both on `job.queued`, and the test principal's key
 * set: the shape the bundle-signing tests refuse one function of while the other keeps running.
 */
export function twoFunctionApp(
  t: TestContext,
  name: string,
  alphaSource = "export default (e, ctx) => ctx.log.info('alpha ran');",
): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: ${name}
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  alpha:
    handler: functions/alpha.ts
    on: [job.queued]
  beta:
    handler: functions/beta.ts
    on: [job.queued]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/alpha.ts": alphaSource,
    "functions/beta.ts": "export default (e, ctx) => ctx.log.info('beta ran');",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}
