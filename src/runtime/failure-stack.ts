/**
 * The stack of a function's failure, as the host keeps it with the delivery. The sandbox sends its
 * error's `stack` already mapped to the TypeScript source: the bundle carries an inline source map
 * (inside the signed bytes, readable but not writable by the sandbox, with no source text in it)
 * whose sources are app-relative under APP_SOURCE_ROOT, and the sandbox runs with Node's
 * `--enable-source-maps`. What arrives is still a claim of untrusted code, so the host keeps only
 * frame lines, rewrites their locations so no host path survives (app sources become
 * `functions/charge.ts:12:9`, an unmapped bundle frame `index.mjs:1:234`, the runner's own frames
 * and all below them are dropped, any other path keeps only its file name), strips control characters, takes out the
 * secrets the function read, and bounds the result (STACK_MAX_FRAMES, STACK_MAX_BYTES).
 */
import { basename, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { isRunnerPath } from "./runner-file.ts";

/**
 * The source root the build gives a bundle's source map: Node resolves each app-relative source
 * against it, so a mapped frame reads `palisade:///functions/charge.ts:12:9` in the sandbox.
 */
export const APP_SOURCE_ROOT = "palisade:///";

/** Most frames kept of one failure's stack. */
export const STACK_MAX_FRAMES = 20;
/** Most bytes (UTF-8) the kept frames take together. */
export const STACK_MAX_BYTES = 4096;
/** Longest frame kept whole; a longer one is cut. */
const FRAME_MAX = 512;

// C0 and C1 controls and DEL: a stack is printed on operators' terminals (`palisade dlq list`).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// The directories of an absolute path or file URL that starts a word.
const DIRECTORIES = /(^|[\s(])(?:file:\/\/)?\/(?:[^\s():/]+\/)+/g;

/**
 * The frames of `stack` (an error's stack text from the sandbox of the bundle at `bundlePath`), each
 * `at name (file:line:col)` with the location made safe to show, redacted by `redact`.
 */
export function stackFrames(stack: unknown, bundlePath: string, redact: (text: string) => string): string[] {
  if (typeof stack !== "string") return [];
  const frames: string[] = [];
  let bytes = 0;
  for (const line of stack.split("\n")) {
    if (frames.length >= STACK_MAX_FRAMES) break;
    const raw = line.replace(CONTROL, "").trim();
    if (!raw.startsWith("at ")) continue;
    const frame = safeFrame(raw, bundlePath);
    // The runner called the handler: what is below it is the platform's plumbing, not the function's.
    if (frame === undefined) break;
    const shown = cut(redact(frame));
    bytes += Buffer.byteLength(shown) + 1;
    if (bytes > STACK_MAX_BYTES) break;
    frames.push(shown);
  }
  return frames;
}

/** `message` followed by `frames`, one per line indented as Node prints a stack. */
export function withStack(message: string, frames: readonly string[]): string {
  return frames.length === 0 ? message : `${message}\n${frames.map((f) => `    ${f}`).join("\n")}`;
}

/** The frame with its location rewritten, or undefined for a frame of the platform's runner. */
function safeFrame(frame: string, bundlePath: string): string | undefined {
  // `at name (location)` or `at location`; a name may itself hold parentheses, the location not.
  const open = frame.lastIndexOf(" (");
  const named = frame.endsWith(")") && open !== -1;
  const location = named ? frame.slice(open + 2, -1) : frame.slice(3);
  const place = safePlace(location, bundlePath);
  if (place === undefined) return undefined;
  // A name can hold a path too (`eval at f (file:///…)`): only its file name is kept.
  return named ? `${frame.slice(0, open).replace(DIRECTORIES, "$1")} (${place})` : `at ${place}`;
}

function safePlace(location: string, bundlePath: string): string | undefined {
  const [, file = "", position = ""] = /^(.*?)((?::\d+){0,2})$/.exec(location) ?? [];
  if (file.startsWith(APP_SOURCE_ROOT)) return `${file.slice(APP_SOURCE_ROOT.length)}${position}`;
  const path = file.startsWith("file:") ? pathOf(file) : file;
  // node:internal/…, native, <anonymous>: no host path in them.
  if (!isAbsolute(path)) return location;
  if (path === bundlePath) return `index.mjs${position}`;
  if (isRunnerPath(path)) return undefined;
  return `${basename(path)}${position}`;
}

function pathOf(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return "/unknown";
  }
}

function cut(frame: string): string {
  return frame.length <= FRAME_MAX ? frame : `${frame.slice(0, FRAME_MAX)}…`;
}
