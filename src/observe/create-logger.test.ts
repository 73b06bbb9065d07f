import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, formatPretty } from "./index.ts";

test("log lines are JSON with credentials redacted, and read as plain lines in a terminal", () => {
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (l: string) => void lines.push(l) } });
  logger.warn(
    {
      fn: "charge",
      eventId: "e-1",
      authorization: "Bearer abc",
      headers: { authorization: "Bearer abc" },
      token: "t",
    },
    "capability denied",
  );
  const entry = JSON.parse(lines[0] ?? "{}");
  assert.equal(entry.authorization, "[redacted]");
  assert.equal(entry.headers.authorization, "[redacted]");
  assert.equal(entry.token, "[redacted]");
  assert.ok(!(lines[0] ?? "").includes("Bearer abc"));
  const pretty = formatPretty(lines[0] ?? "");
  assert.match(pretty, /^\d\d:\d\d:\d\d\.\d{3} .*WARN .*\[charge\] capability denied .*"eventId":"e-1"/);
  assert.ok(!pretty.includes("Bearer abc"));
});
