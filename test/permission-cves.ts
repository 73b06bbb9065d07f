/**
 * Node permission-model advisories (nodejs/security-wg vuln/core, vendored in
 * ../shared/testdata/node-permission-cves) and what each means for a Palisade sandbox on Linux: a
 * probe that attempts the exploit, or the reason it cannot apply. permission-cves.test.ts runs them.
 *
 * A probe's attempts are arrow functions whose source text is copied into a real function bundle
 * (Function.prototype.toString after type stripping), so they may use only their argument and the
 * names PRELUDE imports and HELPERS defines; this file imports the same names so they type-check.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import dc from "node:diagnostics_channel";
import fs from "node:fs";
import http from "node:http";
import inspector from "node:inspector";
import Module, { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { Worker } from "node:worker_threads";
import { assertBundleHasNoSymlinks, RUNTIME_LOAD_FAILED } from "../src/runtime/index.ts";

/** The imports at the top of every probe bundle: the same names this file imports. */
export const PRELUDE = `import crypto from "node:crypto";
import dc from "node:diagnostics_channel";
import fs from "node:fs";
import http from "node:http";
import inspector from "node:inspector";
import Module, { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { Worker } from "node:worker_threads";`;

/** What an attempt gets: paths the host and the sandbox worked out before the attempts run. */
export interface ProbeInput {
  /** The function's own bundle: readable, never writable. */
  bundle: string;
  /** The widest grant: the private temp dir when the sandbox has one (`tmp: true`), else the bundle. */
  granted: string;
  /** Where an attempt creates things: the temp dir when granted, else the bundle's directory. */
  scratch: string;
  /** A JSON file outside every grant, holding a random token. */
  secret: string;
  /** A directory outside every grant that the OS would let the sandbox write to. */
  outside: string;
  /** `granted`, then `..` segments down to `secret`: inside the grant as text, outside in fact. */
  traversal: string;
  /** The same, down to `outside`. */
  traversalDir: string;
  /** A Unix socket the host listens on, outside every grant. */
  socket: string;
  /** A path in `outside` where nothing exists yet (attempts add a suffix and bind sockets there). */
  fresh: string;
}

/** One attempt at an exploit: it throws when blocked and returns what it got when it went through. */
export type Attempt = (x: ProbeInput) => unknown;

export interface Probe {
  /** The exploit in a few words (part of the test name). */
  tries: string;
  /** Attempts that must all be blocked in the sandbox, and must all go through on plain Node. */
  attempts: Record<string, Attempt>;
  /** Error codes that mean the sandbox blocked an attempt. @default ["ERR_ACCESS_DENIED"] */
  blockedBy?: readonly string[];
  /** Variants the sandbox does NOT block on the Node we run: todo tests, each with why. */
  knownGaps?: Record<string, { attempt: Attempt; why: string }>;
  /** How the advisory maps onto our sandbox when it does not apply word for word. */
  note?: string;
  /** A check run on the host with the probe's own bundle before any sandbox starts. */
  hostCheck?: (bundle: string, outside: string) => void;
}

/** One advisory file: the CVE it names, and a probe or the reason it cannot apply. */
export type Advisory = { cve: string; probe: Probe } | { cve: string; notApplicable: string };

/** Code of an attempt that checked the exploit's effect itself and found none. */
export const NO_EFFECT = "PROBE_NO_EFFECT";

// Helpers copied into every probe bundle (see HELPERS below): plain functions, no closures.

export function noEffect(why: string): never {
  throw Object.assign(new Error(why), { code: "PROBE_NO_EFFECT" });
}

/** Runs `use` on a descriptor opened read-only on `file`, then closes it. */
export function withFd(file: string, use: (fd: number) => unknown): unknown {
  const fd = fs.openSync(file, "r");
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Resolves once `socket` emits `ready` (and destroys it), rejects on its first error. */
export function connected(socket: net.Socket, ready: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once(ready, () => {
      socket.destroy();
      resolve(`${ready}: connected to a Unix socket outside every grant`);
    });
    socket.on("error", reject);
  });
}

/** Resolves once `server` listens on the Unix socket `at` (then closes it), rejects on error. */
export function listening(server: net.Server, at: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(at, () => {
      server.close();
      resolve(`listening on ${at}`);
    });
  });
}

/**
 * Runs `run` with `overrides` installed as own properties of `target`, then restores them. If one
 * cannot be installed (Node freezes node:path under --permission), the exploit has no effect.
 */
export function patched(target: object, overrides: Record<string, unknown>, run: () => unknown): unknown {
  const saved: [string, PropertyDescriptor | undefined][] = [];
  try {
    for (const [key, value] of Object.entries(overrides)) {
      const descriptor = Object.getOwnPropertyDescriptor(target, key);
      try {
        Object.defineProperty(target, key, { value, configurable: true, writable: true });
      } catch (err) {
        noEffect(`cannot overwrite ${key}: ${(err as Error).message}`);
      }
      saved.push([key, descriptor]);
    }
    return run();
  } finally {
    for (const [key, descriptor] of saved.reverse()) {
      if (descriptor === undefined) Reflect.deleteProperty(target, key);
      else Object.defineProperty(target, key, descriptor);
    }
  }
}

/** What a read returned, unless it was only the readable bundle (a patched helper sent it there). */
export function leaked(x: ProbeInput, data: unknown): string {
  const text = String(data);
  if (text === fs.readFileSync(x.bundle, "utf8")) noEffect("the read landed on the bundle, not the target");
  return text;
}

export const HELPERS: readonly ((...args: never[]) => unknown)[] = [
  noEffect,
  withFd,
  connected,
  listening,
  patched,
  leaked,
];

const POLICY_ONLY =
  "As written it bypasses --experimental-policy (removed in Node 22; we pass no policy) and the " +
  "permission model does not restrict which built-ins load; translated: the loader reached this " +
  "way must still enforce --allow-fs-read and the process permissions.";

/** Every advisory file of the vendored set, by file name. */
export const ADVISORIES: Record<string, Advisory> = {
  "103.json": {
    cve: "CVE-2023-23918",
    probe: {
      tries: "process.mainModule.require() of a file outside the bundle",
      note: `${POLICY_ONLY} Under our ES module runner process.mainModule is undefined.`,
      attempts: {
        "process.mainModule.require(secret)": (x) =>
          (
            process.mainModule ?? noEffect("process.mainModule is undefined: the runner is an ES module")
          ).require(x.secret),
      },
    },
  },
  "108.json": {
    cve: "CVE-2023-30581",
    probe: {
      tries: "Module.prototype.require (mainModule.__proto__.require) of a file outside the bundle",
      note: `${POLICY_ONLY} --disable-proto=delete removes __proto__, so the prototype is reached with Object.getPrototypeOf.`,
      attempts: {
        "Module.prototype.require.call(new Module(), secret)": (x) => {
          const mod = new Module(x.bundle);
          return (Object.getPrototypeOf(mod) as { require(id: string): unknown }).require.call(mod, x.secret);
        },
      },
    },
  },
  "109.json": {
    cve: "CVE-2023-30582",
    probe: {
      tries: "fs.watchFile / fs.watch on a file outside the grant",
      attempts: {
        "fs.watchFile(secret)": (x) => {
          fs.watchFile(x.secret, { interval: 60_000 }, () => undefined);
          fs.unwatchFile(x.secret);
          return "a StatWatcher now polls the file";
        },
        "fs.watch(secret)": (x) => {
          fs.watch(x.secret).close();
          return "an inotify watch was set on the file";
        },
      },
    },
  },
  "110.json": {
    cve: "CVE-2023-30583",
    probe: {
      tries: "fs.openAsBlob on a file outside the grant",
      attempts: {
        "fs.openAsBlob(secret)": async (x) => (await fs.openAsBlob(x.secret)).text(),
        "fs.openAsBlob(traversal)": async (x) => (await fs.openAsBlob(x.traversal)).text(),
      },
    },
  },
  "111.json": {
    cve: "CVE-2023-30584",
    probe: {
      tries: "a path that starts inside the grant and climbs out with ..",
      attempts: {
        "fs.readFileSync(traversal)": (x) => fs.readFileSync(x.traversal, "utf8"),
        "fs.promises.readFile(traversal)": (x) => fs.promises.readFile(x.traversal, "utf8"),
        "fs.openSync(traversal)": (x) => {
          fs.closeSync(fs.openSync(x.traversal, "r"));
          return "opened";
        },
      },
    },
  },
  "113.json": {
    cve: "CVE-2023-30586",
    probe: {
      tries: "loading an OpenSSL engine at run time",
      blockedBy: ["ERR_CRYPTO_CUSTOM_ENGINE_NOT_SUPPORTED"],
      attempts: {
        'crypto.setEngine("dynamic")': () => {
          crypto.setEngine("dynamic");
          return "engine set";
        },
        "tls.createSecureContext({ clientCertEngine })": () => {
          try {
            return tls.createSecureContext({ clientCertEngine: "dynamic" });
          } catch (err) {
            // Any other failure came from OpenSSL itself: the request reached the engine loader.
            if ((err as { code?: unknown }).code === "ERR_CRYPTO_CUSTOM_ENGINE_NOT_SUPPORTED") throw err;
            return `OpenSSL tried the engine: ${String(err)}`;
          }
        },
      },
    },
  },
  "114.json": {
    cve: "CVE-2023-30587",
    probe: {
      tries: "opening the inspector, which would step around every check",
      attempts: {
        "new inspector.Session().connect()": () => {
          const session = new inspector.Session();
          session.connect();
          session.disconnect();
          return "an inspector session connected";
        },
        "inspector.open(0)": () => {
          inspector.open(0, "127.0.0.1");
          const url = inspector.url();
          inspector.close();
          return url;
        },
      },
    },
  },
  "118.json": {
    cve: "CVE-2023-32002",
    probe: {
      tries: "Module._load() of a file outside, and of child_process to run a program",
      note: POLICY_ONLY,
      attempts: {
        "Module._load(secret)": (x) => (Module as unknown as { _load(id: string): unknown })._load(x.secret),
        'Module._load("node:child_process").execFileSync': () => {
          const cp = (Module as unknown as { _load(id: string): typeof import("node:child_process") })._load(
            "node:child_process",
          );
          return cp.execFileSync(process.execPath, ["--version"], { encoding: "utf8" });
        },
      },
    },
  },
  "119.json": {
    cve: "CVE-2023-32004",
    probe: {
      tries: "a traversal path passed as a Buffer",
      attempts: {
        "fs.readFileSync(Buffer)": (x) => fs.readFileSync(Buffer.from(x.traversal), "utf8"),
        "fs.promises.readFile(Buffer)": (x) => fs.promises.readFile(Buffer.from(x.traversal), "utf8"),
        "fs.statSync(Buffer)": (x) => fs.statSync(Buffer.from(x.traversal)).size,
      },
    },
  },
  "120.json": {
    cve: "CVE-2023-32558",
    probe: {
      tries: 'reaching the fs binding through process.binding("fs")',
      attempts: {
        'process.binding("fs")': () =>
          Object.keys((process as unknown as { binding(name: string): object }).binding("fs")).length,
      },
    },
  },
  "121.json": {
    cve: "CVE-2023-32006",
    probe: {
      tries: "createRequire() (module.constructor.createRequire) of a file outside the bundle",
      note: POLICY_ONLY,
      attempts: {
        "createRequire(bundle)(secret)": (x) => createRequire(x.bundle)(x.secret),
        "Module.createRequire(bundle)(secret)": (x) => Module.createRequire(x.bundle)(x.secret),
      },
      knownGaps: {
        "createRequire(bundle).resolve(secret)": {
          attempt: (x) => createRequire(x.bundle).resolve(x.secret),
          why:
            "the CommonJS resolver stats candidate files without the fs.read check, so require.resolve " +
            "returns the path of an existing file outside the grant (MODULE_NOT_FOUND when missing): " +
            "a file-existence oracle; require() and import() differ the same way (ERR_ACCESS_DENIED vs not found)",
        },
      },
    },
  },
  "122.json": {
    cve: "CVE-2023-32559",
    probe: {
      tries: "reaching the spawn_sync binding through process.binding()",
      note: "Policy-only as written, but process.binding is reachable under our flags, so it must be refused.",
      attempts: {
        'process.binding("spawn_sync")': () =>
          Object.keys((process as unknown as { binding(name: string): object }).binding("spawn_sync")).length,
      },
    },
  },
  "123.json": {
    cve: "CVE-2023-32005",
    probe: {
      tries: "fs.statfs on a file outside the grant",
      attempts: {
        "fs.statfsSync(secret)": (x) => fs.statfsSync(x.secret),
        "fs.promises.statfs(secret)": (x) => fs.promises.statfs(x.secret),
        "fs.statfs(secret, callback)": (x) =>
          new Promise((resolve, reject) =>
            fs.statfs(x.secret, (err, stats) => (err ? reject(err) : resolve(stats))),
          ),
      },
    },
  },
  "124.json": {
    cve: "CVE-2023-32003",
    probe: {
      tries: "fs.mkdtemp with a prefix that climbs out of the grant",
      attempts: {
        "fs.mkdtempSync(traversal prefix)": (x) => fs.mkdtempSync(`${x.traversalDir}/escape-a-`),
        "fs.mkdtempSync(Buffer prefix)": (x) =>
          fs.mkdtempSync(Buffer.from(`${x.traversalDir}/escape-b-`) as unknown as string),
        "fs.promises.mkdtemp(traversal prefix)": (x) => fs.promises.mkdtemp(`${x.traversalDir}/escape-c-`),
      },
    },
  },
  "127.json": {
    cve: "CVE-2023-39331",
    probe: {
      tries: "overwriting node:path helpers so that a traversal path passes the check",
      note: "Under --permission Node freezes node:path, so the overwrite itself fails (reported as no effect).",
      attempts: {
        "path.resolve / normalize patched": (x) =>
          leaked(
            x,
            patched(path, { resolve: () => x.bundle, normalize: () => x.bundle }, () =>
              fs.readFileSync(x.traversal),
            ),
          ),
      },
    },
  },
  "128.json": {
    cve: "CVE-2023-39332",
    probe: {
      tries: "a traversal path passed as a Uint8Array",
      attempts: {
        // The types say Buffer; Node takes any Uint8Array as a path.
        "fs.readFileSync(Uint8Array)": (x) =>
          fs.readFileSync(new TextEncoder().encode(x.traversal) as unknown as Buffer, "utf8"),
        "fs.openSync(Uint8Array)": (x) => {
          fs.closeSync(fs.openSync(new TextEncoder().encode(x.traversal) as unknown as Buffer, "r"));
          return "opened";
        },
      },
    },
  },
  "132.json": {
    cve: "CVE-2024-21891",
    probe: {
      tries: "overwriting the helpers that normalise paths (node:path, String.prototype)",
      attempts: {
        "node:path helpers patched": (x) => {
          const lie = () => x.bundle;
          const lies = {
            resolve: lie,
            normalize: lie,
            join: lie,
            toNamespacedPath: lie,
            isAbsolute: () => true,
          };
          return leaked(
            x,
            patched(path, lies, () => fs.readFileSync(x.traversal)),
          );
        },
        "String.prototype helpers patched": (x) => {
          const lies = { startsWith: () => true, includes: () => false, indexOf: () => -1 };
          return leaked(
            x,
            patched(String.prototype, lies, () => fs.readFileSync(x.traversal)),
          );
        },
      },
    },
  },
  "136.json": {
    cve: "CVE-2024-21896",
    probe: {
      tries: "patching Buffer internals (utf8Write, toString) to rewrite a Buffer path",
      attempts: {
        "Buffer.prototype.utf8Write patched": (x) => {
          const target = Buffer.from(x.traversal);
          const granted = Buffer.from(x.bundle);
          const lies = {
            utf8Write(this: Buffer) {
              return granted.copy(this);
            },
            toString: () => x.bundle,
            utf8Slice: () => x.bundle,
          };
          return leaked(
            x,
            patched(Buffer.prototype, lies, () => fs.readFileSync(target)),
          );
        },
      },
    },
  },
  "142.json": {
    cve: "CVE-2024-36137",
    probe: {
      tries: "fs.fchmod / fs.fchown through a descriptor opened read-only on the bundle",
      attempts: {
        "fs.fchmodSync(read-only fd)": (x) => withFd(x.bundle, (fd) => fs.fchmodSync(fd, 0o600)),
        "fs.fchownSync(read-only fd)": (x) =>
          withFd(x.bundle, (fd) => fs.fchownSync(fd, process.getuid?.() ?? 0, process.getgid?.() ?? 0)),
        "fs.fchmod(read-only fd, callback)": (x) => {
          const fd = fs.openSync(x.bundle, "r");
          return new Promise((resolve, reject) =>
            fs.fchmod(fd, 0o600, (err) => (err ? reject(err) : resolve("mode changed"))),
          ).finally(() => fs.closeSync(fd));
        },
      },
    },
  },
  "144.json": {
    cve: "CVE-2024-22018",
    probe: {
      tries: "fs.lstat on a file outside the grant",
      attempts: {
        "fs.lstatSync(secret)": (x) => fs.lstatSync(x.secret),
        "fs.promises.lstat(secret)": (x) => fs.promises.lstat(x.secret),
        "fs.lstat(secret, callback)": (x) =>
          new Promise((resolve, reject) =>
            fs.lstat(x.secret, (err, stats) => (err ? reject(err) : resolve(stats))),
          ),
        "fs.lstatSync(traversal)": (x) => fs.lstatSync(x.traversal),
      },
    },
  },
  "146.json": {
    cve: "CVE-2024-37372",
    notApplicable:
      "Windows only: UNC paths (\\\\?\\ prefixes); on Linux path.toNamespacedPath returns its input unchanged.",
  },
  "147.json": {
    cve: "CVE-2025-23083",
    probe: {
      tries: "taking a Worker constructor from diagnostics_channel",
      attempts: {
        "module.register() (starts an internal loader worker)": () => {
          Module.register("data:text/javascript,export{}");
          return "hooks thread started";
        },
        "a Worker published on the worker_threads channel": async () => {
          const seen: { worker?: Worker }[] = [];
          const onWorker = (message: unknown) => seen.push(message as { worker?: Worker });
          dc.subscribe("worker_threads", onWorker);
          try {
            try {
              Module.register("data:text/javascript,export{}");
            } catch {}
            try {
              await new Worker(new URL("data:text/javascript,")).terminate();
            } catch {}
          } finally {
            dc.unsubscribe("worker_threads", onWorker);
          }
          const leak = seen.find((m) => m.worker !== undefined)?.worker;
          if (leak === undefined) noEffect("no worker was published on the worker_threads channel");
          const Leaked = leak.constructor as typeof Worker;
          await new Leaked(new URL("data:text/javascript,")).terminate();
          return "started a thread with a Worker constructor taken from the channel";
        },
      },
    },
  },
  "156.json": {
    cve: "CVE-2025-55130",
    probe: {
      tries: "creating a relative symlink (or a hard link) in the grant that leads outside it",
      note:
        "Node follows symlinks that exist when a path is checked, so the host refuses bundles that " +
        "contain any (assertBundleHasNoSymlinks); functions may not create them (fs.symlink needs full read and write).",
      // The reason the host checks bundles: a symlink next to one, pointing outside, is refused.
      hostCheck: (bundle, outside) => {
        const link = path.join(path.dirname(bundle), "escape");
        fs.symlinkSync(path.relative(path.dirname(bundle), path.join(outside, "secret.json")), link);
        try {
          assert.throws(
            () => assertBundleHasNoSymlinks(bundle),
            (err: { code?: unknown; message?: unknown }) =>
              err.code === RUNTIME_LOAD_FAILED &&
              String(err.message).includes(`"${link}" is a symbolic link`),
          );
        } finally {
          fs.unlinkSync(link);
        }
      },
      attempts: {
        "fs.symlinkSync(relative target) then read through it": (x) => {
          const link = `${x.scratch}/up-a`;
          fs.symlinkSync(path.relative(x.scratch, x.secret), link);
          return fs.readFileSync(link, "utf8");
        },
        "chained directory symlinks": (x) => {
          fs.mkdirSync(`${x.scratch}/chain/deep`, { recursive: true });
          fs.symlinkSync("../..", `${x.scratch}/chain/deep/up`);
          return fs.readFileSync(`${x.scratch}/chain/deep/up/${path.relative(x.scratch, x.secret)}`, "utf8");
        },
        "fs.promises.symlink(relative target)": async (x) => {
          const link = `${x.scratch}/up-b`;
          await fs.promises.symlink(path.relative(x.scratch, x.secret), link);
          return fs.readFileSync(link, "utf8");
        },
        "fs.linkSync (a hard link) then read it": (x) => {
          fs.linkSync(x.secret, `${x.scratch}/hard`);
          return fs.readFileSync(`${x.scratch}/hard`, "utf8");
        },
      },
    },
  },
  "158.json": {
    cve: "CVE-2025-55132",
    probe: {
      tries: "fs.futimes through a descriptor opened read-only on the bundle",
      attempts: {
        "fs.futimesSync(read-only fd)": (x) => withFd(x.bundle, (fd) => fs.futimesSync(fd, 0, 0)),
        "fs.futimes(read-only fd, callback)": (x) => {
          const fd = fs.openSync(x.bundle, "r");
          return new Promise((resolve, reject) =>
            fs.futimes(fd, 0, 0, (err) => (err ? reject(err) : resolve("times changed"))),
          ).finally(() => fs.closeSync(fd));
        },
        "FileHandle.utimes (read-only)": async (x) => {
          const handle = await fs.promises.open(x.bundle, "r");
          try {
            await handle.utimes(0, 0);
            return "times changed";
          } finally {
            await handle.close();
          }
        },
      },
    },
  },
  "162.json": {
    cve: "CVE-2026-21636",
    probe: {
      tries: "connecting to a host Unix socket",
      attempts: {
        "net.connect({ path })": (x) => connected(net.connect({ path: x.socket }), "connect"),
        "tls.connect({ path })": (x) => connected(tls.connect({ path: x.socket }), "connect"),
        "http.request({ socketPath })": (x) =>
          new Promise((resolve, reject) => {
            const req = http.request({ socketPath: x.socket, path: "/" });
            req.on("error", reject);
            req.once("socket", (socket) => connected(socket, "connect").then(resolve, reject));
            req.end();
          }),
      },
    },
  },
  "165.json": {
    cve: "CVE-2026-21711",
    probe: {
      tries: "binding a Unix socket server",
      attempts: {
        "net.createServer().listen(path)": (x) => listening(net.createServer(), `${x.fresh}-a.sock`),
        "http.createServer().listen(path)": (x) => listening(http.createServer(), `${x.fresh}-b.sock`),
      },
    },
  },
  "169.json": {
    cve: "CVE-2026-21715",
    probe: {
      tries: "fs.realpath(.native) on a file outside the grant",
      attempts: {
        "fs.realpathSync.native(secret)": (x) => fs.realpathSync.native(x.secret),
        "fs.realpath.native(secret, callback)": (x) =>
          new Promise((resolve, reject) =>
            fs.realpath.native(x.secret, (err, real) => (err ? reject(err) : resolve(real))),
          ),
        "fs.promises.realpath(secret)": (x) => fs.promises.realpath(x.secret),
        "fs.realpath(secret, callback)": (x) =>
          new Promise((resolve, reject) =>
            fs.realpath(x.secret, (err, real) => (err ? reject(err) : resolve(real))),
          ),
        // Node 26 does not check this one itself; the runner wraps it (src/runtime/guest/runner.ts).
        "fs.realpathSync(secret)": (x) => fs.realpathSync(x.secret),
      },
    },
  },
  "170.json": {
    cve: "CVE-2026-21716",
    probe: {
      tries: "FileHandle.chmod / chown on a handle opened read-only on the bundle",
      attempts: {
        "FileHandle.chmod (read-only)": async (x) => {
          const handle = await fs.promises.open(x.bundle, "r");
          try {
            await handle.chmod(0o600);
            return "mode changed";
          } finally {
            await handle.close();
          }
        },
        "FileHandle.chown (read-only)": async (x) => {
          const handle = await fs.promises.open(x.bundle, "r");
          try {
            await handle.chown(process.getuid?.() ?? 0, process.getgid?.() ?? 0);
            return "owner changed";
          } finally {
            await handle.close();
          }
        },
      },
    },
  },
};
