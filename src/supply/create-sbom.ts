import type { BundledPackage } from "./describe-packages.ts";

/** The parts of a CycloneDX 1.5 JSON document that Palisade writes. */
export interface CycloneDxBom {
  $schema: string;
  bomFormat: "CycloneDX";
  specVersion: "1.5";
  version: number;
  metadata: {
    tools: { components: CycloneDxComponent[] };
    component: CycloneDxComponent;
  };
  components: CycloneDxComponent[];
}

export interface CycloneDxComponent {
  type: "application" | "library";
  "bom-ref"?: string;
  group?: string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  externalReferences?: { type: "distribution"; url: string }[];
}

// Subresource Integrity algorithm names → CycloneDX hash algorithm names.
const SRI_ALGS: Record<string, string> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

/**
 * The SBOM of one function bundle: the function as the described component (with the bundle's
 * SHA-256) and one library component per npm package in the bundle. No timestamp or serial number,
 * so the same bundle always gives the same bytes.
 */
export function createSbom(
  functionName: string,
  bundleSha256: string,
  packages: readonly BundledPackage[],
  esbuildVersion: string,
): CycloneDxBom {
  return {
    $schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    version: 1,
    metadata: {
      tools: {
        components: [
          { type: "application", name: "palisade" },
          { type: "application", name: "esbuild", version: esbuildVersion },
        ],
      },
      component: {
        type: "application",
        "bom-ref": `palisade-function:${functionName}`,
        name: functionName,
        hashes: [{ alg: "SHA-256", content: bundleSha256 }],
      },
    },
    components: packages.map(toComponent),
  };
}

function toComponent(pkg: BundledPackage): CycloneDxComponent {
  const slash = pkg.name.startsWith("@") ? pkg.name.indexOf("/") : -1;
  const hashes = pkg.integrity === undefined ? [] : integrityHashes(pkg.integrity);
  return {
    type: "library",
    "bom-ref": pkg.purl,
    ...(slash > 0 ? { group: pkg.name.slice(0, slash) } : {}),
    name: slash > 0 ? pkg.name.slice(slash + 1) : pkg.name,
    version: pkg.version,
    purl: pkg.purl,
    ...(hashes.length > 0 ? { hashes } : {}),
    ...(pkg.resolved === undefined
      ? {}
      : { externalReferences: [{ type: "distribution", url: pkg.resolved }] }),
  };
}

/** CycloneDX hashes (hex) of an SRI string such as `sha512-<base64> sha1-<base64>`. */
export function integrityHashes(integrity: string): { alg: string; content: string }[] {
  const out: { alg: string; content: string }[] = [];
  for (const token of integrity.trim().split(/\s+/)) {
    const dash = token.indexOf("-");
    const alg = SRI_ALGS[token.slice(0, dash)];
    const digest = token.slice(dash + 1).replace(/\?.*$/, "");
    if (dash < 0 || alg === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(digest)) continue;
    out.push({ alg, content: Buffer.from(digest, "base64").toString("hex") });
  }
  return out;
}
