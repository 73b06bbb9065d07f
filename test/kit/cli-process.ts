import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/palisade.js", import.meta.url));

export interface DevProcess {
  child: ChildProcess;
  url: string;
  lines: Record<string, unknown>[];
  waitFor(match: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
}

/**
 * Starts `palisade dev <dir> --port 0` (or another serving command, such as `start`, with extra
 * flags) as a real child process and waits until it serves.
 */
export async function startDev(dir: string, command = "dev", extra: string[] = []): Promise<DevProcess> {
  const child = spawn(process.execPath, [BIN, command, dir, "--port", "0", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let buffer = "";
  child.stdout?.on("data", (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) {
      if (part.trim() === "") continue;
      const line = JSON.parse(part) as Record<string, unknown>;
      lines.push(line);
      for (const w of [...waiters]) if (w.match(line)) w.resolve(line);
    }
  });
  const waitFor = (match: (l: Record<string, unknown>) => boolean, ms = 20000) => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`dev process: no matching line in ${ms} ms; stderr: ${stderr}`)),
        ms,
      );
      const onExit = (code: number | null) => reject(new Error(`dev process exited (${code}): ${stderr}`));
      child.once("exit", onExit);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(l);
        },
      });
    });
  };
  const running = await waitFor((l) => l.msg === "palisade is running");
  return { child, url: String(running.url), lines, waitFor };
}

/** Stops a child and waits for it to be gone. */
export function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}
