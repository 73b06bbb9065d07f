import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { NoveltyPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createNovelty, MAX_PAIRS } from "./novelty.ts";
import { NOVELTY_FILE, openNovelty, readBaselines } from "./novelty-file.ts";

const HOUR = 3_600_000;
const policy = (
  response: NoveltyPolicy["response"] = "alert",
  invocations = 3,
  hours = 24,
): NoveltyPolicy => ({
  learn: { invocations, hours },
  response,
});
const use = (
  target: string,
  capability: SignalOf<"capability.used">["capability"] = "secret",
  fn = "a",
  eventId = "e1",
): SignalOf<"capability.used"> => ({ kind: "capability.used", fn, capability, target, eventId });
const settled = (fn = "a", attempt = 1): SignalOf<"invocation.settled"> => ({
  kind: "invocation.settled",
  fn,
  eventId: "e",
  type: "t",
  attempt,
  outcome: "delivered",
});

/** A detector over functions `a` and `b` whose bundle version is `versions[fn]`. */
function detector(p: NoveltyPolicy, versions: Record<string, string> = { a: "v1", b: "v1" }) {
  const found: Finding[] = [];
  const learned: string[] = [];
  const novelty = createNovelty(p, {
    bundleVersion: (fn) => versions[fn],
    report: (f) => found.push(f),
    learned: (fn) => learned.push(fn),
  });
  return { novelty, found, learned, versions };
}

test("learning ends after learn.invocations first attempts; then a new pair is one finding, and only once", () => {
  const { novelty, found, learned } = detector(policy("alert", 3));
  novelty.used(use("API_KEY"), 0);
  novelty.used(use("orders", "kv-write"), 0);
  novelty.invoked(settled(), 10);
  novelty.invoked(settled("a", 2), 11); // a retry is not another invocation
  novelty.invoked(settled(), 20);
  novelty.used(use("job.done", "emit"), 25); // third invocation, still learning
  assert.deepEqual(learned, []);
  novelty.invoked(settled(), 30);
  assert.deepEqual(learned, ["a"]);
  novelty.used(use("API_KEY"), 40);
  novelty.used(use("job.done", "emit"), 41);
  assert.equal(found.length, 0, "pairs used while learning are the baseline");

  novelty.used(use("https://exfil.example:443", "egress", "a", "e9"), 50);
  assert.equal(found.length, 1);
  const [f] = found;
  assert.equal(f?.detector, "novelty");
  assert.deepEqual(f?.scope, { kind: "function", name: "a" });
  assert.equal(f?.severity, "medium");
  assert.equal(f?.response, "alert");
  assert.deepEqual(f?.evidence, {
    capability: "egress",
    target: "https://exfil.example:443",
    eventId: "e9",
    bundleVersion: "v1",
    learnedPairs: 3,
    learningInvocations: 3,
    learningEndedAt: new Date(30).toISOString(),
  });
  assert.match(f?.summary ?? "", /Function "a" used egress "https:\/\/exfil.example:443" for the first time/);
  novelty.used(use("https://exfil.example:443", "egress", "a", "e10"), 60);
  assert.equal(found.length, 1, "the same pair again is not a new finding");
  novelty.used(use("https://exfil.example:443", "egress", "b"), 60);
  assert.equal(found.length, 1, "another function, still learning, learns it");
  novelty.used(use("API_KEY", "kv-read"), 70);
  assert.equal(found.length, 2, "the same target under another capability is a new pair");
});

test("learning ends after learn.hours even when fewer invocations came, whichever is first", () => {
  const { novelty, found, learned } = detector(policy("alert", 100, 2));
  novelty.used(use("API_KEY"), 1000); // first seen: the hours run from here
  for (let i = 0; i < 5; i++) novelty.invoked(settled(), 1000 + i);
  novelty.used(use("orders", "kv-read"), 1000 + 2 * HOUR - 1);
  assert.equal(found.length, 0);
  assert.deepEqual(learned, []);
  novelty.used(use("STRIPE_KEY"), 1000 + 2 * HOUR);
  assert.deepEqual(learned, ["a"]);
  assert.equal(found.length, 1);
  assert.equal(found[0]?.evidence.learnedPairs, 2);
  assert.equal(found[0]?.evidence.learningInvocations, 5);
  assert.equal(found[0]?.evidence.learningEndedAt, new Date(1000 + 2 * HOUR).toISOString());
  novelty.invoked(settled(), 1000 + 3 * HOUR);
  assert.equal(novelty.baselines().get("a")?.invocations, 5, "invocations after learning are not counted");
});

test("a new bundle version learns again; findings of one function never share a time", () => {
  const { novelty, found, versions } = detector(policy("quarantine", 1));
  novelty.used(use("API_KEY"), 0);
  novelty.invoked(settled(), 1);
  novelty.used(use("job.done", "emit"), 5);
  novelty.used(use("orders", "kv-read"), 5);
  assert.deepEqual(
    found.map((f) => [f.evidence.target, f.at, f.response]),
    [
      ["job.done", 5, "quarantine"],
      ["orders", 6, "quarantine"],
    ],
    "distinct times: a finding's event id is derived from its scope and time",
  );
  versions.a = "v2";
  novelty.used(use("https://api.new:443", "egress"), 10);
  assert.equal(found.length, 2, "the new version is learning");
  assert.deepEqual(novelty.baselines().get("a")?.pairs, ["egress:https://api.new:443"]);
  novelty.invoked(settled(), 11);
  novelty.used(use("API_KEY"), 12);
  assert.equal(found.length, 3, "what the old version used is not the new one's baseline");
  assert.equal(found[2]?.evidence.bundleVersion, "v2");
});

test("a function without a running bundle, and response off, report nothing", () => {
  const { novelty, found } = detector(policy("alert", 1), { a: "v1" });
  novelty.invoked(settled("b"), 0);
  novelty.used(use("X", "secret", "b"), 1);
  assert.deepEqual([...novelty.baselines().keys()], []);
  const off = detector(policy("off", 1));
  off.novelty.invoked(settled(), 0);
  off.novelty.used(use("X"), 1);
  assert.equal(off.found.length + found.length, 0);
  assert.equal(off.novelty.baselines().size, 0, "off keeps no state");
});

test("the baseline holds MAX_PAIRS pairs; past it only the first new pair is reported", () => {
  const { novelty, found } = detector(policy("alert", 1));
  for (let i = 0; i < MAX_PAIRS + 5; i++) novelty.used(use(`ns${i}`, "kv-read"), 0);
  novelty.invoked(settled(), 1);
  assert.equal(novelty.baselines().get("a")?.pairs.length, MAX_PAIRS);
  novelty.used(use("ns0", "kv-read"), 2);
  assert.equal(found.length, 0);
  novelty.used(use("ns-new", "kv-read"), 3);
  novelty.used(use("ns-newer", "kv-read"), 4);
  assert.equal(found.length, 1);
  assert.equal(found[0]?.evidence.baselineFull, true);
  assert.match(found[0]?.summary ?? "", /later new targets of this version are not reported/);
});

function dataDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-novelty-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger that keeps its lines. */
function lines() {
  const out: { level: string; message: string; fields: object }[] = [];
  return {
    out,
    logger: {
      info: (fields: object, message: string) => out.push({ level: "info", message, fields }),
      error: (fields: object, message: string) => out.push({ level: "error", message, fields }),
    },
  };
}

test("baselines survive a restart: saved atomically with mode 0600 at close, read at the next start", async (t) => {
  const dir = dataDir(t);
  const file = join(dir, NOVELTY_FILE);
  const found: Finding[] = [];
  const log = lines();
  const options = {
    policy: policy("alert", 2),
    file,
    bundleVersion: (fn: string) => (fn === "a" ? "v1" : undefined),
    report: (f: Finding) => found.push(f),
    logger: log.logger,
  };
  const first = openNovelty(options);
  first.used(use("API_KEY"));
  first.invoked(settled());
  first.invoked(settled());
  assert.match(log.out.map((l) => l.message).join("\n"), /novelty learning period ended/);
  await first.close();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const saved = readBaselines(file).get("a");
  assert.deepEqual(
    [saved?.version, saved?.invocations, saved?.learned, saved?.pairs],
    ["v1", 2, 1, ["secret:API_KEY"]],
  );

  const second = openNovelty(options);
  second.used(use("API_KEY"));
  assert.equal(found.length, 0);
  second.used(use("orders", "kv-write"));
  assert.equal(found.length, 1, "not learning again after a restart");
  await second.close();
  assert.deepEqual(readBaselines(file).get("a")?.pairs, ["secret:API_KEY", "kv-write:orders"]);
  assert.deepEqual(
    log.out.filter((l) => l.level === "error"),
    [],
  );

  const third = openNovelty({ ...options, bundleVersion: () => "v2" });
  third.used(use("https://x.example:443", "egress"));
  assert.equal(found.length, 1, "a new bundle version starts a new learning period");
  await third.close();
  assert.deepEqual(readBaselines(file).get("a")?.version, "v2");
  assert.deepEqual(readdirSync(dir), [NOVELTY_FILE], "no temporary file left");
});

test("a corrupt baselines file is logged and every function learns again; the next save replaces it", async (t) => {
  const file = join(dataDir(t), NOVELTY_FILE);
  const found: Finding[] = [];
  for (const content of ["{ not json", '{"format":1,"functions":{"a":{"version":"v1","pairs":"x"}}}', "[]"]) {
    writeFileSync(file, content);
    const log = lines();
    const novelty = openNovelty({
      policy: policy("alert", 1),
      file,
      bundleVersion: () => "v1",
      report: (f) => found.push(f),
      logger: log.logger,
    });
    const errors = log.out.filter((l) => l.level === "error");
    assert.equal(errors.length, 1, content);
    assert.match(errors[0]?.message ?? "", /every function starts a new learning period/);
    novelty.used(use("API_KEY"));
    assert.equal(found.length, 0, "learning");
    await novelty.close();
    assert.deepEqual(readBaselines(file).get("a")?.pairs, ["secret:API_KEY"]);
  }
  assert.deepEqual(
    readBaselines(join(file, "..", "missing.json")),
    new Map(),
    "no file: nothing learned yet",
  );
});

test("response off neither reads nor writes the file", async (t) => {
  const file = join(dataDir(t), NOVELTY_FILE);
  writeFileSync(file, "kept as it is");
  const log = lines();
  const novelty = openNovelty({
    policy: policy("off", 1),
    file,
    bundleVersion: () => "v1",
    report: () => assert.fail("off reports nothing"),
    logger: log.logger,
  });
  novelty.invoked(settled());
  novelty.used(use("X"));
  await novelty.close();
  assert.equal(readFileSync(file, "utf8"), "kept as it is");
  assert.deepEqual(log.out, []);
});

test("saving waits for the batch delay: nothing is written on the capability call's path", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const file = join(dataDir(t), NOVELTY_FILE);
  const novelty = openNovelty({
    policy: policy("alert", 5),
    file,
    bundleVersion: () => "v1",
    report: () => undefined,
    logger: lines().logger,
  });
  for (let i = 0; i < 50; i++) novelty.used(use(`S${i}`));
  await new Promise((r) => setImmediate(r));
  assert.equal(existsSync(file), false, "not yet");
  t.mock.timers.tick(1000);
  // The write runs on the thread pool: wait for it by the wall clock (only setTimeout is mocked).
  const deadline = Date.now() + 10_000;
  while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(readBaselines(file).get("a")?.pairs.length, 50, "one write for the batch");
  await novelty.close();
});
