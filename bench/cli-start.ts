/**
 * How fast the `palisade` program answers (issue 17): `--version`, `--help` and `send` to a running
 * app, each the wall time of the bin as a child process run by this Node 26 (npx's own start is not
 * counted), median of runs after warm-up runs (the compile cache is warm, as for a user's second
 * command). Baseline: `node -e 0` in the same run, the floor any Node program pays.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { printTable, quantile, ratio, times as x } from "./stats.ts";

const BIN = fileURLToPath(new URL("../bin/palisade.js", import.meta.url));
const WARMUP = 2;
const RUNS = 9;

/** Aims of issue 17, in ms: --version and --help ≤ 300, send ≤ 600. */
const AIMS = { version: 300, help: 300, send: 600 } as const;

export interface CliStart {
  baselineMs: number;
  versionMs: number;
  helpMs: number;
  sendMs: number;
}

const run = promisify(execFile);

// Not execFileSync: the platform answering `send` runs in this process and must keep serving.
async function medianMs(args: string[]): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = performance.now();
    await run(process.execPath, args);
    if (i >= WARMUP) samples.push(performance.now() - start);
  }
  return quantile(
    samples.sort((a, b) => a - b),
    0.5,
  );
}

/** Measures the CLI against `appDir`, which is served in this process while `send` runs. */
export async function runCliStart(appDir: string): Promise<CliStart> {
  const platform = await startPlatform({
    appDir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  try {
    return {
      baselineMs: await medianMs(["-e", "0"]),
      versionMs: await medianMs([BIN, "--version"]),
      helpMs: await medianMs([BIN, "--help"]),
      sendMs: await medianMs([BIN, "send", "bench.ping", '{"n":1}', "--app", appDir]),
    };
  } finally {
    await platform.close();
  }
}

/** The table, each with its aim. */
export function reportCliStart(r: CliStart): void {
  const row = (name: string, ms: number, aim: number) => [
    name,
    ms.toFixed(0),
    x(ratio(ms, r.baselineMs)),
    `≤ ${aim}${ms <= aim ? "" : " — missed"}`,
  ];
  printTable(
    `CLI answer time (median of ${RUNS} runs after ${WARMUP} warm-up; baseline = node -e 0)`,
    ["command", "ms", "vs baseline", "aim ms"],
    [
      ["baseline: node -e 0", r.baselineMs.toFixed(0), x(1), ""],
      row("palisade --version", r.versionMs, AIMS.version),
      row("palisade --help", r.helpMs, AIMS.help),
      row("palisade send (to a running app, 202)", r.sendMs, AIMS.send),
    ],
  );
}
