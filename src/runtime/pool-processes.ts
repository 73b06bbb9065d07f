/**
 * The process lifecycle of one function's sandbox pool: starting processes (each start behind the
 * bundle checks), keeping `minInstances` warm, replacing a process that died (after a backoff that
 * grows with each crash in a row, and not at all while its circuit is open: crash-breaker.ts), and
 * stopping processes above the minimum that stayed idle. What runs on a process is invoke-batches.ts's.
 */
import { PalisadeError, toPalisadeError } from "../errors.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import { assertBundleHasNoSymlinks } from "./bundle-check.ts";
import type { Invocation } from "./capability-host.ts";
import { type CrashPolicy, createCrashBreaker } from "./crash-breaker.ts";
import { RUNTIME_LOAD_FAILED } from "./errors.ts";
import type { SandboxMessage } from "./guest/protocol.ts";
import {
  messageBound,
  type SandboxProcess,
  type SandboxViolation,
  startSandboxProcess,
} from "./sandbox-process.ts";

/** How long a process may take to load its bundle before it is killed and the load fails. */
export const LOAD_TIMEOUT_MS = 10_000;

/** One invocation, from `invoke` until it settles. */
export interface Job {
  id: number;
  inv: Invocation;
  attempt: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** The first capability refusal of this invocation that no retry can cure (a denial, the hop limit). */
  refusal?: PalisadeError | undefined;
  /** Told when the job is sent to a process: whether it waited for that process to start (cold). */
  onStart?: ((coldStart: boolean) => void) | undefined;
  /** The job started a process (none was free): it waited for the start, a cold start. */
  startedProcess?: boolean;
}

/** One sandbox process of the pool. */
export interface Slot {
  proc: SandboxProcess;
  loaded: boolean;
  /** Sent to this process and not yet done, in the order it runs them: the head is running. */
  batch: Job[];
  timer?: NodeJS.Timeout | undefined;
  /** When it last became idle (ms). */
  idleSince: number;
  /** Stopped on purpose (idle or closing): not replaced when it exits. */
  retired?: boolean;
  /** Killed by the host for running past its timeout: its exit is not a crash. */
  timedOut?: boolean;
  /** Killed by the host because its function was held mid-batch: its exit is not a crash either. */
  heldStop?: boolean;
  /** Killed by the host because its bundle did not finish loading in time: why it failed. */
  loadError?: PalisadeError;
}

/** What a pool's processes report besides their messages. */
export interface SandboxPoolEvents {
  /** A process broke a sandbox limit (message size, scratch size) and was stopped. */
  violation?(violation: SandboxViolation): void;
  /** A process exited without being asked to (a crash, or stopped for a violation). */
  crashed?(reason: PalisadeError): void;
  /** Too many crashes in a row: the function is unavailable, its invocations held, until `until`. */
  unavailable?(info: { crashes: number; windowMs: number; until: number }): void;
  /** The function completed an invocation after being unavailable. */
  available?(): void;
}

export interface PoolProcessesOptions {
  fn: FunctionSpec;
  bundlePath: string;
  osLayer: boolean;
  idleStopMs: number;
  beforeSpawn?: (() => void) | undefined;
  crashPolicy: CrashPolicy;
  events: SandboxPoolEvents;
  /** Processes may take work again (a backoff or cool-down ended). */
  onRoom: () => void;
  /** A process loaded its bundle; `assigned` are the invocations that started it (maybe none). */
  onReady: (slot: Slot, assigned: Job[]) => void;
  /** A process could not load its bundle (or could not be started): `assigned` fail with `err`. */
  onLoadFailed: (assigned: Job[], err: unknown) => void;
  /** A process exited that was not stopped on purpose; it is already out of the pool. */
  onLost: (slot: Slot, reason: PalisadeError) => void;
  onMessage: (slot: Slot, msg: SandboxMessage) => void;
  onOutput: (slot: Slot, stream: "stdout" | "stderr", line: string) => void;
}

export interface PoolProcesses {
  /** Starts a process for `assigned` (none: a warm spare). */
  spawn(assigned: Job[]): void;
  /** An idle process, now no longer idle. */
  takeIdle(): Slot | undefined;
  /** Marks a process idle. */
  release(slot: Slot): void;
  /** A process completed an invocation (the function works): resets the crash backoff. */
  worked(): void;
  /** How many processes could take work now: idle ones plus room under the concurrency cap. */
  room(): number;
  size(): number;
  /** Starts `minInstances` processes and waits until each has loaded (or LOAD_TIMEOUT_MS passes). */
  startWarm(): Promise<void>;
  /** Stops every process; returns them so their work can be failed. */
  close(): Slot[];
  /** The processes that have work sent to them now. */
  busy(): Slot[];
}

/** Creates the process lifecycle of one pool. */
export function createPoolProcesses(options: PoolProcessesOptions): PoolProcesses {
  const { fn } = options;
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  let closed = false;
  const breaker = createCrashBreaker(options.crashPolicy);
  let wake: NodeJS.Timeout | undefined;
  const remove = (list: Slot[], slot: Slot): void => {
    const i = list.indexOf(slot);
    if (i >= 0) list.splice(i, 1);
  };
  // Stop instances above the warm minimum that have been idle a while.
  const reaper = setInterval(() => {
    const now = Date.now();
    for (const slot of [...idle]) {
      if (slots.length <= fn.limits.minInstances) return;
      if (now - slot.idleSince < options.idleStopMs) continue;
      remove(idle, slot);
      remove(slots, slot);
      slot.retired = true;
      slot.proc.kill();
    }
  }, options.idleStopMs / 4);
  reaper.unref();

  function spawn(assigned: Job[]): void {
    const slot = { loaded: false, batch: [], idleSince: Date.now() } as unknown as Slot;
    try {
      // Checked before every start: a symlink planted beside the bundle would let the process read
      // through it (Node's permission model follows links), so such a bundle is not run.
      assertBundleHasNoSymlinks(options.bundlePath);
      options.beforeSpawn?.();
      slot.proc = launch(slot);
    } catch (err) {
      // No retry can cure a bundle that fails its checks: it is a load failure (dead-lettered).
      const e = toPalisadeError(err);
      const reason =
        e.code === RUNTIME_LOAD_FAILED
          ? e
          : new PalisadeError(RUNTIME_LOAD_FAILED, `Cannot start function "${fn.name}": ${e.message}`, {
              cause: err,
            });
      options.onLoadFailed(assigned, reason);
      return;
    }
    slots.push(slot);
    watchLoad(slot, assigned);
  }

  function launch(slot: Slot): SandboxProcess {
    return startSandboxProcess({
      functionName: fn.name,
      bundlePath: options.bundlePath,
      memoryMb: fn.limits.memoryMb,
      outputBytes: fn.limits.outputBytes,
      tmp: fn.tmp,
      tmpBytes: fn.limits.tmpMb * 1024 * 1024,
      allowCodeGeneration: fn.allowCodeGeneration,
      osLayer: options.osLayer,
      maxMessageBytes: messageBound(fn.limits.outputBytes),
      onViolation: (v) => options.events.violation?.(v),
      onMessage: (msg) => options.onMessage(slot, msg),
      onOutput: (stream, line) => options.onOutput(slot, stream, line),
      onExit: (reason) => exited(slot, reason),
    });
  }

  // A bundle whose top level never finishes (an endless await) must not hold a start forever.
  function watchLoad(slot: Slot, assigned: Job[]): void {
    const loadTimer = setTimeout(() => {
      slot.loadError = new PalisadeError(
        RUNTIME_LOAD_FAILED,
        `Function "${fn.name}" did not finish loading within ${LOAD_TIMEOUT_MS} ms`,
      );
      slot.proc.kill();
    }, LOAD_TIMEOUT_MS);
    slot.proc.ready.then(
      () => {
        clearTimeout(loadTimer);
        slot.loaded = true;
        options.onReady(slot, assigned);
      },
      // A bundle that cannot load fails the invocations that started this process; the exit
      // handler removes the slot.
      (err: unknown) => {
        clearTimeout(loadTimer);
        options.onLoadFailed(assigned, slot.loadError ?? err);
      },
    );
  }

  function exited(slot: Slot, reason: PalisadeError): void {
    if (slot.retired) return;
    remove(slots, slot);
    remove(idle, slot);
    options.onLost(slot, reason);
    if (!slot.timedOut && !slot.heldStop && !closed) crashed(reason, slot.loaded);
    // Keep the pool warm after a crash or timeout, but never respawn in a loop a bundle that
    // cannot load: such a slot is only started again on demand, by queued invocations.
    if (slot.loaded) replenish();
  }

  function crashed(reason: PalisadeError, loaded: boolean): void {
    const now = Date.now();
    options.events.crashed?.(reason);
    if (breaker.crashed(now) === "opened") {
      const { crashes, windowMs } = options.crashPolicy;
      options.events.unavailable?.({ crashes, windowMs, until: now + breaker.delay(now) });
    }
    armWake(loaded);
  }

  // Nothing starts until the backoff (or cool-down) ends; then the queue and the warm minimum.
  function armWake(loaded: boolean): void {
    clearTimeout(wake);
    wake = setTimeout(() => {
      // Timers run on the event loop's cached clock, which can lag Date.now(): not yet, wait again.
      if (breaker.delay(Date.now()) > 0) return armWake(loaded);
      if (loaded) replenish();
      options.onRoom();
    }, breaker.delay(Date.now()));
  }

  function replenish(): void {
    if (closed || breaker.delay(Date.now()) > 0) return;
    for (let n = fn.limits.minInstances - slots.length; n > 0; n--) spawn([]);
  }

  /** New processes that may start now: none during a backoff; one trial after a cool-down. */
  function startable(now: number): number {
    if (breaker.delay(now) > 0) return 0;
    const cap = breaker.tripped() ? 1 : fn.limits.concurrency;
    return Math.max(0, cap - slots.length);
  }

  return {
    spawn,
    takeIdle: () => (breaker.isOpen(Date.now()) ? undefined : idle.pop()),
    release(slot) {
      if (closed || !slots.includes(slot)) return;
      slot.idleSince = Date.now();
      idle.push(slot);
    },
    worked() {
      if (breaker.worked() === "closed") options.events.available?.();
    },
    room() {
      const now = Date.now();
      return breaker.isOpen(now) ? 0 : idle.length + startable(now);
    },
    size: () => slots.length,
    async startWarm() {
      assertBundleHasNoSymlinks(options.bundlePath);
      options.beforeSpawn?.();
      for (let i = 0; i < fn.limits.minInstances; i++) spawn([]);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new PalisadeError(
                RUNTIME_LOAD_FAILED,
                `Function "${fn.name}" did not finish loading within ${LOAD_TIMEOUT_MS} ms`,
              ),
            ),
          LOAD_TIMEOUT_MS,
        );
        timer.unref();
      });
      try {
        // A process killed for loading too long fails with that reason, not its kill signal
        // (whichever of the two timers, or the exit, is seen first).
        const loaded = slots.map((s) =>
          s.proc.ready.catch((err: unknown) => {
            throw s.loadError ?? err;
          }),
        );
        await Promise.race([Promise.all(loaded), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    busy: () => slots.filter((slot) => slot.batch.length > 0),
    close() {
      closed = true;
      clearInterval(reaper);
      clearTimeout(wake);
      for (const slot of slots) {
        slot.retired = true;
        slot.proc.kill();
      }
      return slots.splice(0);
    },
  };
}
