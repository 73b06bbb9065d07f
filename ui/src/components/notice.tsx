import type { ComponentChildren } from "preact";
import type { ApiError } from "../api.ts";

export type Tone = "ok" | "bad" | "warn" | "info";

/** A line of feedback: what an action did, or why it failed (errors are announced to screen readers). */
export function Notice({ tone, children }: { readonly tone: Tone; readonly children: ComponentChildren }) {
  return (
    <p class={`notice notice-${tone}`} role={tone === "bad" ? "alert" : "status"}>
      {children}
    </p>
  );
}

/** The API's message for a failed call, or nothing. */
export function ErrorNote({ error }: { readonly error: ApiError | undefined }) {
  return error === undefined ? null : <Notice tone="bad">{error.message}</Notice>;
}
