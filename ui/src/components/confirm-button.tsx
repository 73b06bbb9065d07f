import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

interface ConfirmButtonProps {
  readonly label: string;
  /** What the second click confirms, shown in place of the button. */
  readonly question: ComponentChildren;
  readonly busy?: boolean;
  readonly onConfirm: () => void;
}

/**
 * A button for an action that is hard to undo (rotating a key, releasing held work): the first click
 * asks, the second does it. Inline rather than `window.confirm`, which blocks the page.
 */
export function ConfirmButton({ label, question, busy = false, onConfirm }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class="button" disabled={busy} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span class="confirm">
      <span class="confirm-question">{question}</span>
      <button
        type="button"
        class="button button-danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" class="button button-quiet" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
