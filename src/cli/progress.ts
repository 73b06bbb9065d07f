/**
 * Progress of long work (build, replay, re-encryption) as one line on standard error that rewrites
 * itself: only when standard error is a terminal. Piped, redirected or in CI, nothing is written, so
 * a log or a `2>file` holds only what the command reports at the end. The line uses no escape codes
 * (a carriage return and spaces clear it), so there is no colour for NO_COLOR to turn off.
 */

/** A progress line; every method does nothing when standard error is not a terminal. */
export interface Progress {
  /**
   * Shows `done` of `total` (a bar), or only the count when the total is not known, then `note`
   * (what is being worked on, such as the function being bundled).
   */
  update(done: number, total?: number, note?: string): void;
  /** Clears the line, leaving the cursor where the line began. */
  done(): void;
}

/** Where the line goes: standard error by default. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** A terminal repaints far less often than work advances: at most this often, and at the end. */
const REPAINT_MS = 80;
const BAR_WIDTH = 30;

/** A progress line labelled `label` (such as "replaying") on `stream`. */
export function createProgress(label: string, stream: ProgressStream = process.stderr): Progress {
  if (stream.isTTY !== true) return { update: () => undefined, done: () => undefined };
  let shown = 0;
  let paintedAt = 0;
  const paint = (text: string): void => {
    stream.write(`\r${text}${" ".repeat(Math.max(0, shown - text.length))}`);
    shown = text.length;
  };
  return {
    update(done, total, note) {
      const now = Date.now();
      if (now - paintedAt < REPAINT_MS && note === undefined && (total === undefined || done < total)) return;
      paintedAt = now;
      const count = total === undefined ? `${done}` : `${bar(done, total)} ${done}/${total}`;
      paint(`${label} ${count}${note === undefined ? "" : ` ${note}`}`);
    },
    done() {
      if (shown === 0) return;
      stream.write(`\r${" ".repeat(shown)}\r`);
      shown = 0;
    },
  };
}

function bar(done: number, total: number): string {
  const filled = total === 0 ? BAR_WIDTH : Math.min(BAR_WIDTH, Math.round((done / total) * BAR_WIDTH));
  return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`;
}
