/**
 * The soak's plot as a hand-written SVG (no dependency): three stacked line charts over time —
 * throughput, end-to-end latency, resident memory — with the warm-up shaded.
 */
import { writeFileSync } from "node:fs";
import type { IntervalStats } from "./soak-intervals.ts";
import { soakSummary } from "./soak-report.ts";
import type { SoakResult } from "./soak-run.ts";

interface Series {
  name: string;
  color: string;
  values: readonly number[];
  dashed?: boolean;
}

interface Chart {
  title: string;
  unit: string;
  series: readonly Series[];
}

const WIDTH = 960;
const CHART_H = 250;
const TOP = 50;
const M = { left: 80, right: 190, top: 28, bottom: 42 };
const PLOT_W = WIDTH - M.left - M.right;
const PLOT_H = CHART_H - M.top - M.bottom;

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const num = (n: number): string => (Math.abs(n) >= 1000 ? n.toLocaleString("en-US") : String(n));

/** A step of 1, 2 or 5 × 10^k giving about `count` ticks from 0 to `max`. */
export function tickStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

const ticks = (max: number, count: number): number[] => {
  const step = tickStep(max, count);
  const top = Math.max(step, Math.ceil(max / step) * step);
  return Array.from({ length: Math.round(top / step) + 1 }, (_, i) => Number((i * step).toPrecision(12)));
};

function axes(x: (s: number) => number, y: (v: number) => number, xt: number[], yt: number[], unit: string) {
  const out: string[] = [];
  for (const v of yt) {
    out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`);
  }
  for (const s of xt) {
    out.push(
      `<line x1="${x(s)}" x2="${x(s)}" y1="${M.top + PLOT_H}" y2="${M.top + PLOT_H + 5}" stroke="#555"/>`,
    );
    out.push(`<text x="${x(s)}" y="${M.top + PLOT_H + 18}" text-anchor="middle">${num(s)}</text>`);
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#555"/>`,
    `<text x="${M.left + PLOT_W / 2}" y="${M.top + PLOT_H + 36}" text-anchor="middle">time since the offered load started (s)</text>`,
    `<text transform="translate(18 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${esc(unit)}</text>`,
  );
  return out;
}

function chart(c: Chart, mids: readonly number[], seconds: number, warmup: number, offsetY: number): string {
  const max = Math.max(1e-9, ...c.series.flatMap((s) => s.values));
  const yt = ticks(max, 5);
  const xt = ticks(seconds, 10).filter((s) => s <= seconds);
  const yTop = yt.at(-1) ?? 1;
  const x = (s: number): number => Number((M.left + (s / seconds) * PLOT_W).toFixed(1));
  const y = (v: number): number => Number((M.top + PLOT_H - (v / yTop) * PLOT_H).toFixed(1));
  const parts = [
    `<g transform="translate(0 ${offsetY})">`,
    `<text x="${M.left}" y="${M.top - 10}" font-weight="bold">${esc(c.title)}</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${x(warmup) - M.left}" height="${PLOT_H}" fill="#f3f3f3"/>`,
    ...axes(x, y, xt, yt, c.unit),
  ];
  c.series.forEach((s, i) => {
    const pts = s.values.map((v, j) => `${x(mids[j] ?? 0)},${y(v)}`).join(" ");
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
    parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    if (!s.dashed)
      for (const [j, v] of s.values.entries())
        parts.push(`<circle cx="${x(mids[j] ?? 0)}" cy="${y(v)}" r="2.5" fill="${s.color}"/>`);
    const ly = M.top + 12 + i * 20;
    const lx = M.left + PLOT_W + 14;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${lx + 28}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push(`<text x="${M.left + 4}" y="${M.top + PLOT_H - 6}" fill="#888">warm-up</text>`, "</g>");
  return parts.join("\n");
}

function charts(r: SoakResult): Chart[] {
  const v = (f: (i: IntervalStats) => number) => r.intervals.map(f);
  return [
    {
      title: `Throughput (offered ${num(r.rate)} events/s open loop)`,
      unit: "events/s",
      series: [
        { name: "offered", color: "#999", values: v(() => r.rate), dashed: true },
        { name: "accepted (202)/s", color: "#1f77b4", values: v((i) => i.acceptedPerSec) },
        { name: "settled/s", color: "#2ca02c", values: v((i) => i.settledPerSec) },
      ],
    },
    {
      title: "End-to-end latency per interval (POST sent → handler done, delivery settled)",
      unit: "ms",
      series: [
        { name: "p99", color: "#d62728", values: v((i) => i.p99Ms) },
        { name: "p50", color: "#ff7f0e", values: v((i) => i.p50Ms) },
      ],
    },
    {
      title: "Resident memory (RSS) and the platform's live heap",
      unit: "MB",
      series: [
        { name: "platform (max of 1 s)", color: "#9467bd", values: v((i) => i.rssMaxMB), dashed: true },
        { name: "platform (mean)", color: "#9467bd", values: v((i) => i.rssMB) },
        { name: "platform V8 heap (min)", color: "#8c564b", values: v((i) => i.heapMinMB) },
        { name: "sandboxes (sum)", color: "#17becf", values: v((i) => i.sandboxRssMB) },
      ],
    },
  ];
}

/** The plot of a soak as SVG text. */
export function soakSvg(r: SoakResult): string {
  const subtitle = soakSummary(r);
  const mids = r.intervals.map((i) => (i.fromS + i.toS) / 2);
  const list = charts(r);
  const height = TOP + list.length * CHART_H;
  const body = list.map((c, k) => chart(c, mids, r.config.seconds, r.warmupSeconds, TOP + k * CHART_H));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">Palisade soak: ${r.config.seconds} s at ${num(r.rate)} events/s, ${r.config.intervalSeconds} s intervals</text>`,
    `<text x="${M.left}" y="40" fill="#555">${esc(subtitle)}</text>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/** Writes the plot to `path`. */
export function writeSoakSvg(r: SoakResult, path: string): void {
  writeFileSync(path, soakSvg(r));
}
