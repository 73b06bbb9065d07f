/**
 * External test corpora (JSONTestSuite, the CloudEvents conformance suite, Node's permission-model
 * advisories) live in `../shared/testdata`, beside the repo, where CI and the team have them. A clone
 * with nothing beside it runs every other test: tests that need a corpus skip with a reason naming
 * it. CI refuses to run without them (`.ci/run`), so nothing is skipped there.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The corpora by folder name under `../shared/testdata`, with where they come from. */
export const CORPORA = {
  jsontestsuite: "JSONTestSuite (nst/JSONTestSuite)",
  "cloudevents-conformance": "the CloudEvents conformance suite (cloudevents/conformance)",
  "node-permission-cves": "Node.js permission-model advisories (nodejs/security-wg vuln/core)",
} as const;

export type CorpusName = keyof typeof CORPORA;

/** Where a corpus lives (with a trailing slash), and the skip reason when it is absent. */
export function corpus(name: CorpusName): { dir: string; skip: string | false } {
  const dir = fileURLToPath(new URL(`../../../shared/testdata/${name}/`, import.meta.url));
  if (existsSync(dir)) return { dir, skip: false };
  // CI sets this, so a missing corpus fails the run instead of skipping quietly.
  if (process.env.PALISADE_REQUIRE_CORPORA === "1")
    throw new Error(`Test corpus "${name}" is missing at ${dir}; CI must have ../shared/testdata`);
  return {
    dir,
    skip: `needs ${CORPORA[name]} at ${dir}; it is not in this clone (CI has it in ../shared/testdata)`,
  };
}
