import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type TestContext, test } from "node:test";
import { PalisadeError } from "../errors.ts";
import { compileFilter, createEvent, type EventFilter } from "../events/index.ts";
import { DEFAULT_RETRY } from "../manifest/index.ts";
import {
  createDispatcher,
  type DeliveryRef,
  type DispatcherOptions,
  type Outcome,
  openSqliteStore,
  retryDelay,
  type SqliteStore,
  type Target,
} from "./index.ts";

function logFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-dispatch-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "events.db");
}

const ev = (type: string, id: string) =>
  createEvent({ type, data: {}, id }, { principal: "p", source: "test", hop: 0 });

/** A target with what it subscribes to (the store routes and checks by it). */
type TestTarget = Target & { on: string[]; filter?: EventFilter };

type TestOptions = Omit<DispatcherOptions, "queue" | "state" | "targets"> & { targets: TestTarget[] };

/** Opens `file` routing to `targets`. */
function openStore(file: string, targets: readonly TestTarget[]): SqliteStore {
  return openSqliteStore(file, {
    subscriptions: targets.map((t) => ({
      name: t.name,
      on: t.on,
      ...(t.filter === undefined ? {} : { filter: t.filter }),
    })),
  });
}

/** A dispatcher on a store of `file` routing to its targets. */
function dispatcherOn(file: string, options: TestOptions) {
  const log = openStore(file, options.targets);
  const dispatcher = createDispatcher({ ...options, queue: log.queue, state: log.state });
  return { dispatcher, log };
}

/** Starts a dispatcher that is closed, with its store, when the test ends. */
function startDispatcher(t: TestContext, file: string, options: TestOptions) {
  const started = dispatcherOn(file, options);
  t.after(async () => {
    await started.dispatcher.close();
    await started.log.close();
  });
  return started;
}

function settledCollector() {
  const settled: { d: DeliveryRef; o: Outcome }[] = [];
  let notify = () => {};
  return {
    settled,
    onSettled: (d: DeliveryRef, o: Outcome) => {
      settled.push({ d, o });
      notify();
    },
    until: (n: number) =>
      new Promise<void>((resolve) => {
        notify = () => settled.length >= n && resolve();
        notify();
      }),
  };
}

test("each event goes to every subscribed target and only to them", async (t) => {
  const calls: string[] = [];
  const c = settledCollector();
  const retry = { ...DEFAULT_RETRY, initialDelayMs: 1 };
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [
      { name: "a", on: ["x.created"], concurrency: 2, retry },
      { name: "b", on: ["x.created", "y.created"], concurrency: 1, retry },
    ],
    invoke: async (target, d) => {
      calls.push(`${target}:${d.event.id}`);
    },
    onSettled: c.onSettled,
  });
  await log.events.append([ev("x.created", "1"), ev("y.created", "2"), ev("z.created", "3")]);
  dispatcher.notify();
  await c.until(3);
  assert.deepEqual(calls.sort(), ["a:1", "b:1", "b:2"]);
  assert.deepEqual(await log.queue.deliveries("3"), []);
});

test("a failing target is retried up to its attempts, then recorded as failed with the reason", async (t) => {
  const c = settledCollector();
  let calls = 0;
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [
      {
        name: "f",
        on: ["x.created"],
        concurrency: 1,
        retry: { ...DEFAULT_RETRY, attempts: 3, initialDelayMs: 5 },
      },
    ],
    invoke: async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    },
    onSettled: c.onSettled,
  });
  await log.events.append([ev("x.created", "e")]);
  dispatcher.notify();
  await c.until(3);
  assert.equal(calls, 3);
  assert.deepEqual(
    c.settled.map((s) => s.o.kind),
    ["retry", "retry", "failed"],
  );
  assert.deepEqual(await log.queue.deliveries("e"), [
    { target: "f", state: "failed", attempts: 3, lastError: "boom 3" },
  ]);
});

test("the error decides: not retryable with a dead-letter reason ends at once, anything else is retried", async (t) => {
  const c = settledCollector();
  const calls = new Map<string, number>();
  const retry = { ...DEFAULT_RETRY, attempts: 3, initialDelayMs: 1 };
  const failures: Record<string, () => Error> = {
    // Final: the failing domain named the reason and said no retry can cure it.
    final: () => new PalisadeError("PAL_X_REFUSED", "refused", { deadLetter: "denied" }),
    // A reason but retryable: the reason alone does not end it.
    retryable: () => new PalisadeError("PAL_X_BUSY", "busy", { retryable: true, deadLetter: "denied" }),
    // Not retryable and no reason (an unknown failure): retried, it may be transient.
    unknown: () => new PalisadeError("PAL_X_ODD", "odd"),
    // A code that used to be looked up in a table, with nothing carried: retried like any other.
    code: () => new PalisadeError("PAL_RUNTIME_DENIED", "claimed"),
  };
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [{ name: "f", on: ["x.created"], concurrency: 4, retry }],
    invoke: async (_target, d) => {
      calls.set(d.event.id, (calls.get(d.event.id) ?? 0) + 1);
      throw (failures[d.event.id] ?? failures.unknown)?.();
    },
    onSettled: c.onSettled,
  });
  await log.events.append(Object.keys(failures).map((id) => ev("x.created", id)));
  dispatcher.notify();
  await c.until(1 + 3 * 3);
  const dead = new Map((await log.queue.deadLetters(10)).map((d) => [d.eventId, d]));
  assert.deepEqual(Object.fromEntries(calls), { final: 1, retryable: 3, unknown: 3, code: 3 });
  assert.equal(dead.get("final")?.reason, "denied");
  assert.equal(dead.get("final")?.attempts, 1);
  for (const id of ["retryable", "unknown", "code"]) {
    assert.equal(dead.get(id)?.reason, "attempts-exhausted", id);
    assert.equal(dead.get(id)?.attempts, 3, id);
  }
});

test("no more attempts run at once than a target's concurrency", async (t) => {
  const c = settledCollector();
  let running = 0;
  let peak = 0;
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [{ name: "f", on: ["x.created"], concurrency: 3, retry: DEFAULT_RETRY }],
    invoke: async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    },
    onSettled: c.onSettled,
  });
  await log.events.append(Array.from({ length: 20 }, (_, i) => ev("x.created", `e${i}`)));
  dispatcher.notify();
  await c.until(20);
  assert.equal(peak, 3);
});

test("pending deliveries are resumed by a new dispatcher on the same file", async (t) => {
  const file = logFile(t);
  const targets = [{ name: "f", on: ["x.created"], concurrency: 1, retry: DEFAULT_RETRY }];
  // Routed (as it was appended) but never attempted: as if the process died right after the 202.
  const first = openStore(file, targets);
  await first.events.append([ev("x.created", "kept")]);
  await first.close();

  const c = settledCollector();
  const { log } = startDispatcher(t, file, { targets, invoke: async () => {}, onSettled: c.onSettled });
  await c.until(1);
  assert.deepEqual(await log.queue.deliveries("kept"), [
    { target: "f", state: "delivered", attempts: 1, lastError: null },
  ]);
});

test("backoff doubles from the initial delay and is capped", () => {
  const policy = { attempts: 10, backoff: "exponential" as const, initialDelayMs: 100, maxDelayMs: 1000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => retryDelay(policy, n, () => 1)),
    [100, 200, 400, 800, 1000],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => retryDelay(policy, n, () => 0.5)),
    [50, 100, 200],
    "full jitter: uniform up to the capped delay",
  );
  assert.equal(retryDelay({ ...policy, backoff: "fixed" }, 4), 100);
});

test("prefix subscriptions and content filters decide which targets get an event", async (t) => {
  const calls: string[] = [];
  const c = settledCollector();
  const big = compileFilter({ data: { amount: [{ numeric: [">=", 100] }] } });
  if (Array.isArray(big)) assert.fail("valid pattern");
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [
      { name: "all-orders", on: ["order.*"], concurrency: 1, retry: DEFAULT_RETRY },
      { name: "big-orders", on: ["order.created"], filter: big, concurrency: 1, retry: DEFAULT_RETRY },
    ],
    invoke: async (target, d) => {
      calls.push(`${target}:${d.event.id}`);
    },
    onSettled: c.onSettled,
  });
  const order = (id: string, type: string, amount: number) =>
    createEvent({ type, data: { amount }, id }, { principal: "p", source: "test", hop: 0 });
  await log.events.append([
    order("small", "order.created", 5),
    order("large", "order.created", 500),
    order("gone", "order.cancelled", 500),
    order("x", "orders.created", 500),
  ]);
  dispatcher.notify();
  await c.until(4);
  assert.deepEqual(calls.sort(), [
    "all-orders:gone",
    "all-orders:large",
    "all-orders:small",
    "big-orders:large",
  ]);
  assert.deepEqual(await log.queue.deliveries("x"), []);
});

test("retries wait out their backoff on the clock (injected, no sleeping), then dead-letter", async (t) => {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_000_000 });
  const c = settledCollector();
  const attemptsAt: number[] = [];
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [
      {
        name: "f",
        on: ["x.created"],
        concurrency: 1,
        retry: { attempts: 3, backoff: "exponential", initialDelayMs: 1000, maxDelayMs: 60_000 },
      },
    ],
    invoke: async () => {
      attemptsAt.push(Date.now());
      throw new Error("down");
    },
    onSettled: c.onSettled,
    random: () => 1, // the top of the jitter range: delays are exactly 1000 then 2000 ms
  });
  const settle = () => new Promise((r) => setImmediate(r));
  await log.events.append([ev("x.created", "e")]);
  dispatcher.notify();
  await c.until(1);
  for (let i = 0; i < 5; i++) await settle();
  t.mock.timers.tick(999);
  for (let i = 0; i < 5; i++) await settle();
  assert.equal(attemptsAt.length, 1, "not before the delay");
  t.mock.timers.tick(1);
  await c.until(2);
  for (let i = 0; i < 5; i++) await settle();
  t.mock.timers.tick(1999);
  for (let i = 0; i < 5; i++) await settle();
  assert.equal(attemptsAt.length, 2);
  t.mock.timers.tick(1);
  await c.until(3);
  assert.deepEqual(attemptsAt, [1_000_000, 1_001_000, 1_003_000]);
  assert.deepEqual(
    c.settled.map((s) => s.o.kind),
    ["retry", "retry", "failed"],
  );
  const [dead] = await log.queue.deadLetters(1);
  assert.equal(dead?.reason, "attempts-exhausted");
});

test("a daily budget holds deliveries past it (durably, across a restart) and reports exhaustion once", async (t) => {
  const file = logFile(t);
  const exhausted: string[] = [];
  const targets = [
    {
      name: "f",
      on: ["x.created"],
      concurrency: 2,
      retry: DEFAULT_RETRY,
      admission: { dailyInvocations: 3 },
    },
  ];
  const run = async (expected: number) => {
    const c = settledCollector();
    const { dispatcher, log } = dispatcherOn(file, {
      targets,
      invoke: async () => {},
      onSettled: c.onSettled,
      onBudgetExhausted: (target, limit) => exhausted.push(`${target}:${limit}`),
    });
    await c.until(expected);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    await dispatcher.close();
    const settled = c.settled.length;
    return { log, settled };
  };
  const first = openStore(file, targets);
  await first.events.append(Array.from({ length: 5 }, (_, i) => ev("x.created", `b${i}`)));
  await first.close();

  const a = await run(3);
  assert.equal(a.settled, 3, "the budget of 3 is used, the other 2 are held");
  const states = await Promise.all(["b0", "b1", "b2", "b3", "b4"].map((id) => a.log.queue.deliveries(id)));
  assert.deepEqual(states.map((s) => s[0]?.state).sort(), [
    "delivered",
    "delivered",
    "delivered",
    "pending",
    "pending",
  ]);
  await a.log.close();
  assert.deepEqual(exhausted, ["f:3"]);

  // A restart the same day does not refill the budget.
  const b = await run(0);
  assert.equal(b.settled, 0);
  await b.log.close();
});

test("two dispatchers on one store draw from one daily budget", async (t) => {
  const file = logFile(t);
  const targets = [
    {
      name: "f",
      on: ["x.created"],
      concurrency: 4,
      retry: DEFAULT_RETRY,
      admission: { dailyInvocations: 5 },
    },
  ];
  const seed = openStore(file, targets);
  await seed.events.append(Array.from({ length: 12 }, (_, i) => ev("x.created", `s${i}`)));
  await seed.close();
  const c = settledCollector();
  const ran: string[] = [];
  const options = {
    targets,
    invoke: async (_target: string, d: { event: { id: string } }) => {
      ran.push(d.event.id);
    },
    onSettled: c.onSettled,
  };
  startDispatcher(t, file, options);
  startDispatcher(t, file, options);
  await c.until(5);
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.equal(ran.length, 5, "5 attempts in all, not 5 per dispatcher");
});

test("ratePerSec spaces attempts out on the clock (mock timers) instead of dropping them", async (t) => {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 5_000_000 });
  const c = settledCollector();
  const startedAt: number[] = [];
  const { dispatcher, log } = dispatcherOn(logFile(t), {
    targets: [
      { name: "f", on: ["x.created"], concurrency: 10, retry: DEFAULT_RETRY, admission: { ratePerSec: 2 } },
    ],
    invoke: async () => {
      startedAt.push(Date.now());
    },
    onSettled: c.onSettled,
  });
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  await log.events.append(Array.from({ length: 5 }, (_, i) => ev("x.created", `r${i}`)));
  dispatcher.notify();
  await c.until(2);
  await settle();
  assert.equal(startedAt.length, 2, "a bucket of one second's worth: 2 at once");
  t.mock.timers.tick(500);
  await c.until(3);
  t.mock.timers.tick(500);
  await c.until(4);
  t.mock.timers.tick(500);
  await c.until(5);
  assert.deepEqual(startedAt, [5_000_000, 5_000_000, 5_000_500, 5_001_000, 5_001_500]);
});

test("a failing, slow function never blocks the others", async (t) => {
  const c = settledCollector();
  const healthy: string[] = [];
  let release: () => void = () => {};
  const stuck = new Promise<void>((r) => {
    release = r;
  });
  const { dispatcher, log } = dispatcherOn(logFile(t), {
    targets: [
      { name: "broken", on: ["x.created"], concurrency: 1, retry: { ...DEFAULT_RETRY, attempts: 1 } },
      { name: "healthy", on: ["x.created"], concurrency: 1, retry: DEFAULT_RETRY },
    ],
    invoke: async (target, d) => {
      if (target === "broken") {
        await stuck; // the first attempt hangs until the end of the test, then fails
        throw new Error("down");
      }
      healthy.push(d.event.id);
    },
    onSettled: c.onSettled,
  });
  t.after(async () => {
    release();
    await dispatcher.close();
    await log.close();
  });
  await log.events.append(Array.from({ length: 10 }, (_, i) => ev("x.created", `h${i}`)));
  dispatcher.notify();
  await c.until(10);
  assert.equal(healthy.length, 10, "all of healthy's deliveries went through while broken was stuck");
  assert.ok(c.settled.every((s) => s.d.target === "healthy"));
});

test("a delivery row planted for a function that does not subscribe to the type is refused, never run; others flow", async (t) => {
  const file = logFile(t);
  const retry = { ...DEFAULT_RETRY, initialDelayMs: 1 };
  const hasN = compileFilter({ data: { n: [{ exists: true }] } });
  if (Array.isArray(hasN)) assert.fail("valid pattern");
  const targets = [
    { name: "admin", on: ["admin.reset"], concurrency: 1, retry },
    { name: "work", on: ["x.created", "y.created"], concurrency: 1, retry },
    { name: "picky", on: ["y.created"], filter: hasN, concurrency: 1, retry },
  ];
  const first = openStore(file, targets);
  await first.events.append([
    ev("x.created", "before"),
    ev("x.created", "planted"),
    ev("y.created", "after"),
  ]);
  await first.close();
  // As someone with write access to the file: route "x.created" events to "admin", and "after"
  // (a y.created) to "picky", whose filter rejects it.
  const db = new DatabaseSync(file);
  db.exec(`INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at)
    SELECT seq, 'admin', 'pending', 0, 0, 0 FROM events WHERE id = 'planted';
    INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at)
    SELECT seq, 'picky', 'pending', 0, 0, 0 FROM events WHERE id = 'after'`);
  db.close();
  const calls: string[] = [];
  const c = settledCollector();
  const { log } = startDispatcher(t, file, {
    targets,
    invoke: async (target, d) => {
      calls.push(`${target}:${d.event.id}`);
    },
    onSettled: c.onSettled,
  });
  await c.until(5);
  assert.deepEqual(calls.sort(), ["work:after", "work:before", "work:planted"]);
  const refused = c.settled
    .filter((s) => s.o.kind === "failed")
    .map((s) => [s.d.target, s.d.eventId, s.o.kind === "failed" ? s.o.reason : ""]);
  assert.deepEqual(refused.sort(), [
    ["admin", "planted", "not-subscribed"],
    ["picky", "after", "not-subscribed"],
  ]);
  const dead = await log.queue.deadLetters(10);
  assert.match(dead.find((d) => d.target === "admin")?.error ?? "", /does not subscribe to "x\.created"/);
  assert.match(dead.find((d) => d.target === "picky")?.error ?? "", /filter does not match/);
});

/** Lets every pending callback and I/O completion run (no timers: they are mocked in these tests). */
async function idle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Waits (without timers) until `n` outcomes were recorded, or gives up so the assertion after says why. */
async function settledUpTo(c: ReturnType<typeof settledCollector>, n: number): Promise<void> {
  for (let i = 0; i < 50 && c.settled.length < n; i++) await idle();
}

/**
 * A dispatcher on a fresh store whose queue is `wrap`ped (to count or fail its calls), with the clock
 * mocked so the poll timer fires only when a test ticks it. Closed when the test ends.
 */
function wakeTest(
  t: TestContext,
  targets: TestTarget[],
  wrap: (queue: SqliteStore["queue"]) => Partial<SqliteStore["queue"]>,
  options: Partial<Pick<DispatcherOptions, "invoke" | "onError">> = {},
) {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 7_000_000 });
  const c = settledCollector();
  const log = openStore(logFile(t), targets);
  const dispatcher = createDispatcher({
    targets,
    invoke: async () => {},
    ...options,
    onSettled: c.onSettled,
    queue: { ...log.queue, ...wrap(log.queue) },
    state: log.state,
  });
  t.after(async () => {
    await dispatcher.close();
    await log.close();
  });
  return { c, log, dispatcher };
}

test("an event for one function makes the dispatcher ask the store about that function only", async (t) => {
  // The poll timer never fires here (mock timers): every take below comes from a wake-up.
  const targets: TestTarget[] = Array.from({ length: 20 }, (_, i) => ({
    name: `f${i}`,
    on: [`t${i}.x`],
    concurrency: 1,
    retry: DEFAULT_RETRY,
  }));
  const takes = new Map<string, number>();
  const { c, log, dispatcher } = wakeTest(t, targets, (queue) => ({
    take: (target: string, limit: number) => {
      takes.set(target, (takes.get(target) ?? 0) + 1);
      return queue.take(target, limit);
    },
  }));
  await idle();
  assert.equal(takes.size, 20, "the first round looks at every function");

  takes.clear();
  await log.events.append([ev("t3.x", "a"), ev("t3.x", "b"), ev("nobody.x", "c")]);
  await c.until(2);
  await idle();
  assert.deepEqual([...takes.keys()], ["f3"], "only the function given work was asked for it");

  takes.clear();
  await log.events.append([ev("nobody.x", "d")]);
  await idle();
  assert.equal(takes.size, 0, "an event no function subscribes to wakes nobody");

  // A wake-up that does not say for whom (a timer, a backend that cannot tell) looks at all.
  dispatcher.notify();
  await idle();
  assert.equal(takes.size, 20);
});

test("a round that fails part-way forgets none of the functions woken for it", async (t) => {
  const targets: TestTarget[] = ["a", "b", "c"].map((name) => ({
    name,
    on: [`${name}.x`],
    concurrency: 1,
    retry: DEFAULT_RETRY,
  }));
  let failNext = false;
  const errors: unknown[] = [];
  const { c, log } = wakeTest(
    t,
    targets,
    (queue) => ({
      take: (target: string, limit: number) => {
        if (target === "a" && failNext) {
          failNext = false;
          throw new Error("store read failed once");
        }
        return queue.take(target, limit);
      },
    }),
    { onError: (err) => errors.push(err) },
  );
  await idle();

  // One append wakes a and b; the round fails at a, before it reaches b.
  failNext = true;
  await log.events.append([ev("a.x", "1"), ev("b.x", "2")]);
  await idle();
  assert.equal(errors.length, 1);
  assert.equal(c.settled.length, 0);

  // The next wake-up is for c alone, and still reaches the a and b the failed round left behind
  // (the error backoff's timer never fires here).
  await log.events.append([ev("c.x", "3")]);
  await settledUpTo(c, 3);
  assert.deepEqual(c.settled.map((s) => s.d.target).sort(), ["a", "b", "c"]);
});

test("a wake-up that arrives while the dispatcher arms its timer is not left for the poll", async (t) => {
  const targets: TestTarget[] = [{ name: "a", on: ["a.x"], concurrency: 1, retry: DEFAULT_RETRY }];
  let arming: (() => void) | undefined;
  let armed = 0;
  const { c, log, dispatcher } = wakeTest(t, targets, (queue) => ({
    nextDue: async () => {
      armed++;
      // The second arming waits until the test lets it go: a wake-up lands meanwhile.
      if (armed === 2) await new Promise<void>((resolve) => (arming = resolve));
      return queue.nextDue();
    },
  }));
  t.after(() => arming?.());
  await idle();
  dispatcher.notify();
  await idle();
  assert.ok(arming, "the pump is waiting in its timer's arming");
  await log.events.append([ev("a.x", "1")]);
  arming?.();
  await settledUpTo(c, 1);
  assert.equal(c.settled[0]?.d.target, "a");
});

test("a function whose last take came back short is not asked for more on every finished attempt", async (t) => {
  const targets: TestTarget[] = [
    { name: "a", on: ["a.x"], concurrency: 1, retry: { ...DEFAULT_RETRY, initialDelayMs: 0, maxDelayMs: 0 } },
  ];
  let takes = 0;
  let failures = 1;
  const { c, log } = wakeTest(
    t,
    targets,
    (queue) => ({
      take: (target: string, limit: number) => {
        takes++;
        return queue.take(target, limit);
      },
    }),
    {
      invoke: async (_name, d) => {
        if (d.event.id === "3" && failures-- > 0) throw new Error("fails once");
      },
    },
  );
  await idle();
  takes = 0;
  await log.events.append(["1", "2", "3", "4", "5"].map((id) => ev("a.x", id)));
  await settledUpTo(c, 6);
  assert.deepEqual(
    c.settled.map((s) => `${s.d.eventId}:${s.o.kind}`),
    ["1:delivered", "2:delivered", "3:retry", "4:delivered", "5:delivered", "3:delivered"],
    "the retry recorded with no delay is taken again at once, without a timer",
  );
  // One take for the append and one for the retry once it was recorded (due again at once); none
  // for the five other attempts that ended with nothing new in the store.
  assert.equal(takes, 2);
});

test("new work does not make the dispatcher ask the store for the next due time; the poll does", async (t) => {
  const targets: TestTarget[] = [{ name: "a", on: ["a.x"], concurrency: 1, retry: DEFAULT_RETRY }];
  let asked = 0;
  const { c, log } = wakeTest(t, targets, (queue) => ({
    nextDue: () => {
      asked++;
      return queue.nextDue();
    },
  }));
  await idle();
  assert.equal(asked, 1, "start-up looks at everything, the next due time included");
  for (let i = 0; i < 10; i++) await log.events.append([ev("a.x", `e${i}`)]);
  await settledUpTo(c, 10);
  assert.equal(c.settled.length, 10);
  assert.equal(asked, 1, "ten events, no query for the next due time");
  t.mock.timers.tick(1_000);
  await idle();
  assert.equal(asked, 2, "the poll asks");
});

test("a held target starts nothing and gives its taken work back; once lifted it runs each delivery once, in order", async (t) => {
  const c = settledCollector();
  const calls: string[] = [];
  const holds: string[] = [];
  let held = false;
  let releaseFirst = () => {};
  const firstRunning = new Promise<void>((r) => {
    releaseFirst = r;
  });
  let started = () => {};
  const firstStarted = new Promise<void>((r) => {
    started = r;
  });
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [
      { name: "q", on: ["x.created"], concurrency: 1, retry: DEFAULT_RETRY },
      { name: "other", on: ["x.created"], concurrency: 1, retry: DEFAULT_RETRY },
    ],
    held: (target) => held && target === "q",
    invoke: async (target, d) => {
      calls.push(`${target}:${d.event.id}`);
      if (target === "q" && d.event.id === "1") {
        started();
        await firstRunning; // the hold comes while this attempt runs
      }
    },
    onSettled: c.onSettled,
    onHold: (target, hold) => holds.push(`${target}:${hold}`),
  });
  await log.events.append([ev("x.created", "1"), ev("x.created", "2"), ev("x.created", "3")]);
  dispatcher.notify();
  await firstStarted;
  held = true;
  releaseFirst(); // the running attempt finishes; 2 and 3, taken with it, go back
  await c.until(4); // q:1 and other's three
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    calls.filter((x) => x.startsWith("q:")),
    ["q:1"],
    "nothing more starts while held",
  );
  assert.deepEqual(holds, ["q:quarantine"], "counted once");
  assert.deepEqual(
    (await log.queue.deliveries("3")).map((s) => `${s.target}:${s.state}:${s.attempts}`).sort(),
    ["other:delivered:1", "q:pending:0"],
    "held work stays pending, not attempted",
  );
  held = false;
  dispatcher.notify(["q"]);
  await c.until(6);
  assert.deepEqual(
    calls.filter((x) => x.startsWith("q:")),
    ["q:1", "q:2", "q:3"],
  );
});

test("an attempt the runtime gives back unrun (its function was held meanwhile) is not charged and runs again", async (t) => {
  const c = settledCollector();
  const seen: number[] = [];
  const { dispatcher, log } = startDispatcher(t, logFile(t), {
    targets: [{ name: "f", on: ["x.created"], concurrency: 1, retry: { ...DEFAULT_RETRY, attempts: 1 } }],
    invoke: async (_target, d) => {
      seen.push(d.attempts);
      if (seen.length === 1)
        throw new PalisadeError("PAL_TEST_HELD", "held", { retryable: true, notAttempted: true });
    },
    onSettled: c.onSettled,
  });
  await log.events.append([ev("x.created", "1")]);
  dispatcher.notify();
  await c.until(1);
  assert.deepEqual(seen, [0, 0], "given back, then run as its first attempt");
  assert.deepEqual(
    c.settled.map((s) => s.o.kind),
    ["delivered"],
    "with attempts: 1, not dead-lettered",
  );
});
