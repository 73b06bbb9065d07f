/**
 * CPU time per event, by process: this process (`process.cpuUsage`), a server process and this
 * process's other descendants (sandboxes, read from /proc). On a CPU-bound 2-core machine the ratio
 * of two pipelines' throughputs is about the inverse ratio of their CPU per event, so this shows
 * where a gap comes from, and the floor a component sets. Linux only; elsewhere it reports nothing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

/** CPU microseconds per event of each part. */
export interface CpuPerEvent {
  self: number;
  server: number;
  children: number;
}

/** Starts counting; `perEvent(n)` divides what was used since by `n` events. */
export function cpuAccount(serverPid: number | undefined): { perEvent(n: number): CpuPerEvent | undefined } {
  if (!existsSync("/proc/self/stat")) return { perEvent: () => undefined };
  const kids = descendants(process.pid).filter((pid) => pid !== serverPid);
  const start = { self: process.cpuUsage(), server: ticksUs(serverPid), kids: kids.map(ticksUs) };
  return {
    perEvent(n) {
      const self = process.cpuUsage(start.self);
      const children = kids.reduce((sum, pid, i) => sum + ticksUs(pid) - (start.kids[i] ?? 0), 0);
      return {
        self: (self.user + self.system) / n,
        server: (ticksUs(serverPid) - start.server) / n,
        children: children / n,
      };
    },
  };
}

/** User + system CPU of `pid` so far, in µs (0 once it is gone). */
function ticksUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime and stime, in clock ticks of 10 ms (fields 14 and 15 of proc(5), here 11 and 12).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return 0;
  }
}

function descendants(root: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [pid, ppid] of rows)
      if (ppid === parent && pid !== undefined) {
        out.push(pid);
        queue.push(pid);
      }
  }
  return out;
}

/** "a + b + c = total µs" for printing, or a note when not measured. */
export function formatCpu(c: CpuPerEvent | undefined, names: [string, string, string]): string {
  if (c === undefined) return "not measured (no /proc)";
  const parts = [c.self, c.server, c.children];
  const total = parts.reduce((a, b) => a + b, 0);
  return `${parts
    .map((v, i) => ({ v, name: names[i] }))
    .filter((p) => p.v > 0 || p.name !== "")
    .map((p) => `${p.name} ${Math.round(p.v)}`)
    .join(" + ")} = ${Math.round(total)} µs`;
}

/** Total CPU per event, 0 when not measured. */
export function totalCpu(c: CpuPerEvent | undefined): number {
  return c === undefined ? 0 : c.self + c.server + c.children;
}
