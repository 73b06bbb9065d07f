import { existsSync, readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { PalisadeError } from "../errors.ts";
import type { AppModel } from "./app-model.ts";
import { MANIFEST_INVALID, MANIFEST_NOT_FOUND } from "./errors.ts";
import { formatProblem, locate, type Problem } from "./problem.ts";
import { type RawManifest, resolveApp } from "./resolve-app.ts";
import { validateShape } from "./validate-shape.ts";

/** File name of the manifest inside an app directory. */
export const MANIFEST_FILE = "palisade.yaml";

/**
 * Loads `<dir>/palisade.yaml` into a frozen app model. Every mistake found is reported at once, each
 * as `file:line: path: what to do`, in one PalisadeError whose `details` lists them.
 */
export function loadApp(appDir: string): AppModel {
  const dir = resolve(appDir);
  const manifestPath = resolve(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new PalisadeError(
      MANIFEST_NOT_FOUND,
      `Cannot load app: no ${MANIFEST_FILE} in "${dir}"; run "palisade init ${appDir}" to create one`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(manifestPath, "utf8"), { lineCounter: lines, prettyErrors: false });
  const file = basename(manifestPath);
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      path: [],
      message: `invalid YAML: ${e.message.split("\n")[0]}`,
      line: lines.linePos(e.pos[0]).line,
    }));
    throw manifestError(file, problems);
  }
  const raw: unknown = doc.toJS();
  const problems = validateShape(raw);
  const app = problems.length === 0 ? resolveApp(raw as RawManifest, dir, manifestPath, problems) : undefined;
  if (problems.length > 0 || app === undefined) {
    for (const p of problems) {
      const line = locate(doc, lines, p.path);
      if (line !== undefined) p.line = line;
    }
    throw manifestError(file, problems);
  }
  return app;
}

function manifestError(file: string, problems: Problem[]): PalisadeError {
  const messages = problems.map((p) => formatProblem(file, p));
  return new PalisadeError(MANIFEST_INVALID, messages.join("\n"), { status: 400, details: messages });
}
