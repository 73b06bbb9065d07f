import type { ComponentChildren } from "preact";
import type { Tone } from "./notice.tsx";

/** A small coloured label: a state, a role, a severity. */
export function Badge({
  tone,
  children,
}: {
  readonly tone: Tone | "muted";
  readonly children: ComponentChildren;
}) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/** The tone of a delivery state, audit outcome or severity. */
export function toneOf(word: string): Tone | "muted" {
  switch (word) {
    case "delivered":
    case "allowed":
    case "low":
      return "ok";
    case "failed":
    case "denied":
    case "error":
    case "high":
    case "critical":
      return "bad";
    case "pending":
    case "medium":
      return "warn";
    default:
      return "muted";
  }
}
