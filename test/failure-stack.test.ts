/**
 * A function's failure keeps its stack: mapped to the TypeScript source, relative to the app,
 * redacted, in the delivery's error, in `palisade dlq list` (text: the first frames; --json: all) and
 * in the admin API's event detail. Bundles built without a source map still run.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { build } from "esbuild";
import { createEvent } from "../src/events/index.ts";
import { startPlatform } from "../src/main.ts";
import { DEFAULT_LIMITS, DEFAULT_RETRY, NO_GRANTS } from "../src/manifest/index.ts";
import { createCapabilityHost, createSandboxPool, egressFetch } from "../src/runtime/index.ts";
import { adminCall, setAdminKey } from "./kit/admin.ts";
import { palisade, palisadeJson, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const CARD_TOKEN = "tok_live_8d1f0c2a9b";

// The throw is in a helper of its own file, a few lines down, below a comment and a type that the
// bundle drops: only the source map can give its line.
const CARD = `// Card helpers: types first, so the bundle's lines are not the source's.
export interface Card {
  token: string;
}

export function chargeCard(card: Card, amount: number): void {
  if (amount > 0) {
    throw new Error(\`card \${card.token} declined for \${amount}\`);
  }
}
`;
const CHARGE = `import { chargeCard } from "./lib/card.ts";

interface Ctx {
  secrets: { get(name: string): Promise<string> };
}

export default async (event: { data: { n: number } }, ctx: Ctx) => {
  const token = await ctx.secrets.get("CARD_TOKEN");
  chargeCard({ token }, event.data.n);
};
`;
const lineOf = (source: string, text: string) => source.split("\n").findIndex((l) => l.includes(text)) + 1;

test("a function that throws from a nested helper dead-letters with its TypeScript stack, redacted", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: stacks
events:
  order.created: { schema: schemas/n.json }
${testPrincipal(["order.created"])}functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
    secrets: [CARD_TOKEN]
    retry: { attempts: 1 }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/lib/card.ts": CARD,
    "functions/charge.ts": CHARGE,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setSecret(dir, "CARD_TOKEN", CARD_TOKEN);
  setAdminKey(dir);
  const logs = captureLogs();
  // dev mode: the bundle is built, signed and verified before its sandbox loads it.
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const sent = await post(`${platform.url}/events`, { type: "order.created", data: { n: 42 } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const id = sent.body.ids[0] as string;
  type Row = { eventId: string; error: string };
  await waitUntil(
    "the dead letter",
    async () => ((await palisadeJson(["dlq", "list", "--app", dir])) as Row[]).length === 1,
  );
  const [row] = (await palisadeJson(["dlq", "list", "--app", dir])) as Row[];
  assert.equal(row?.eventId, id);
  const error = row?.error ?? "";
  const [message, ...frames] = error.split("\n");
  assert.equal(message, "card [REDACTED] declined for 42", "the secret the function read is redacted");
  assert.ok(!error.includes(CARD_TOKEN));
  assert.match(
    frames[0] ?? "",
    new RegExp(`^ {4}at chargeCard \\(functions/lib/card\\.ts:${lineOf(CARD, "throw")}:\\d+\\)$`),
  );
  assert.match(
    frames[1] ?? "",
    new RegExp(`\\(functions/charge\\.ts:${lineOf(CHARGE, "chargeCard({")}:\\d+\\)$`),
  );
  assert.ok(!error.includes(dir) && !/file:|\/tmp\//.test(error), `no host path: ${error}`);
  assert.ok(!/runner/.test(error), "the platform's runner frames are not the function's");

  const text = await palisade(["dlq", "list", "--app", dir]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(
    text.stdout,
    /after 1 attempt\(s\): card \[REDACTED\] declined for 42\n {4}at chargeCard \(functions\/lib\/card\.ts:\d+:\d+\)\n/,
  );

  const detail = await adminCall(platform.url, "GET", `/events/${id}`);
  assert.equal(detail.status, 200, JSON.stringify(detail.body));
  assert.equal(detail.body.deliveries[0].lastError, error, "the event's detail has the whole stack");
  const page = await adminCall(platform.url, "GET", "/events");
  assert.equal(page.body.events[0].deliveries[0].lastError, message, "a page lists the message only");
});

const OLD = `function failing(n: number): never {
  throw new Error(\`old bundle failed on \${n}\`);
}
export default (event: { data: { n: number } }) => {
  if (event.data.n > 0) failing(event.data.n);
};
`;

for (const [kind, sourcemap, where] of [
  ["without a source map", false, /index\.mjs:\d+:\d+/],
  // The previous build's map: sources relative to the build directory, resolved wherever it is staged.
  ["with an earlier build's inline map", "inline", /old\.ts:2:\d+/],
] as const) {
  test(`a bundle built ${kind} still runs; its frames name no host path`, async (t) => {
    const dir = tempApp(t, { "functions/old.ts": OLD });
    const out = await build({
      entryPoints: [join(dir, "functions/old.ts")],
      outfile: join(dir, "dist", "old", "index.mjs"),
      bundle: true,
      format: "esm",
      platform: "node",
      sourcemap,
      write: false,
    });
    // Staged elsewhere, as the platform stages verified bundles.
    const bundlePath = join(dir, "run", "old", "index.mjs");
    mkdirSync(join(dir, "run", "old"), { recursive: true });
    writeFileSync(bundlePath, out.outputFiles.find((f) => f.path.endsWith(".mjs"))?.contents ?? "");
    const pool = createSandboxPool({
      fn: {
        name: "old",
        handlerPath: join(dir, "functions/old.ts"),
        on: ["t.x"],
        ...NO_GRANTS,
        limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 5000 },
        retry: DEFAULT_RETRY,
      },
      bundlePath,
      capabilities: createCapabilityHost(
        {
          emit: async () => "unused",
          secret: () => undefined,
          kv: undefined as never,
          fetch: (f, url, init) => egressFetch(url, init, { fn: f.name, rules: f.egress }),
        },
        { used: () => undefined, denied: () => undefined, limited: () => undefined },
      ),
      log: () => undefined,
    });
    t.after(() => pool.close());
    await pool.start();
    const event = (n: number) =>
      createEvent({ type: "t.x", data: { n } }, { principal: "t", source: "t", hop: 0 });
    await assert.rejects(pool.invoke(event(1), 1), (err: Error) => {
      const [message, first] = err.message.split("\n");
      assert.equal(message, "old bundle failed on 1");
      assert.match(first ?? "", /^ {4}at failing \(/);
      assert.match(first ?? "", where);
      assert.ok(!err.message.includes(dir) && !err.message.includes("file:"), err.message);
      return true;
    });
    await pool.invoke(event(0), 1); // and it keeps serving
  });
}
