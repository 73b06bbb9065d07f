import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { locate, type ManifestPath } from "./problem.ts";

/** A parsed YAML or JSON file that can say on which line a field path is. */
export interface LocatedDocument {
  /** The file's content as plain JavaScript values. */
  readonly value: unknown;
  /** 1-based line of `path` (or of its nearest existing ancestor). */
  line(path: ManifestPath): number | undefined;
}

/**
 * Reads a YAML file, or a JSON file (JSON is YAML 1.2), keeping the source positions, so findings
 * about the manifest, a schema or a lockfile can name their line as manifest problems do.
 * Undefined when the file cannot be read or parsed.
 */
export function readLocated(file: string): LocatedDocument | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) return undefined;
  const value: unknown = doc.toJS();
  return { value, line: (path) => locate(doc, lines, path) };
}
