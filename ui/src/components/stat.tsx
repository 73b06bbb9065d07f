import type { ComponentChildren } from "preact";
import type { Tone } from "./notice.tsx";

interface StatProps {
  readonly label: string;
  readonly value: ComponentChildren;
  /** Colours the value: red for something to look at, green for all clear. */
  readonly tone?: Tone;
  readonly children?: ComponentChildren;
}

/** One headline number with its label, and optional detail below. */
export function Stat({ label, value, tone, children }: StatProps) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class={tone === undefined ? "stat-value" : `stat-value tone-${tone}`}>{value}</div>
      {children}
    </div>
  );
}
