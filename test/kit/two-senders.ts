import type { TestContext } from "node:test";
import { type Platform, startPlatform } from "../../src/main.ts";
import { post, TEST_KEY } from "./http.ts";
import { captureLogs } from "./log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp } from "./temp-app.ts";

/** The API key of the second sender (`other`) in apps started by `startTwoSenderApp`. */
export const OTHER_KEY = "other-key-0123456789abcdef0123456789";

/** Manifest lines of two senders, `tester` (TEST_KEY) and `other` (OTHER_KEY), with what each publishes. */
export function twoSenders(tester: string[], other: string[], otherExtra = ""): string {
  return `principals:
  tester:
    apiKey: { secret: TEST_KEY }
    publish: [${tester.join(", ")}]
  other:
    apiKey: { secret: OTHER_KEY }
    publish: [${other.join(", ")}]
${otherExtra}`;
}

/**
 * Writes `files` (with `schemas/n.json`, the `{ n }` schema, unless given) to a temp app, stores both
 * senders' keys, and starts the platform on it, closed when the test ends. `send` posts one `{ n }`
 * event as a sender and returns the response.
 */
export async function startTwoSenderApp(t: TestContext, files: Record<string, string | object>) {
  const dir = tempApp(t, { "schemas/n.json": NUMBER_SCHEMA, ...files });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "OTHER_KEY", OTHER_KEY);
  const logs = captureLogs();
  const platform: Platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const send = (type: string, n: number, key = TEST_KEY) =>
    post(`${platform.url}/events`, { type, data: { n } }, "application/json", key);
  return { dir, logs, platform, send };
}
