/**
 * Builds the producer SDK (`palisade/client`) as one ES module for plain Node ≥ 20: dist/client.js.
 * Node does not strip TypeScript types under node_modules, so an app that installs Palisade could not
 * load src/client/ itself. Run by `prepare` (on `npm install`/`npm ci` of this package and before
 * packing); the bundle holds only the client and the verifiability module, nothing of the platform.
 */
import { build } from "esbuild";

await build({
  entryPoints: [new URL("../src/client/index.ts", import.meta.url).pathname],
  outfile: new URL("../dist/client.js", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  legalComments: "none",
  logLevel: "warning",
});
