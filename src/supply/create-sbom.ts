import { createHash } from "node:crypto";
import { PalisadeError } from "../errors.ts";
import type { BundledPackage } from "./describe-packages.ts";
import { SUPPLY_BUILD_FAILED } from "./errors.ts";
import { type CycloneDxLicense, cycloneDxLicenses } from "./spdx-license.ts";

/** The parts of a CycloneDX 1.5 JSON document that Palisade writes. */
export interface CycloneDxBom {
  $schema: string;
  bomFormat: "CycloneDX";
  specVersion: "1.5";
  serialNumber: string;
  version: number;
  metadata: {
    timestamp: string;
    tools: { components: CycloneDxComponent[] };
    authors: { name: string }[];
    component: CycloneDxComponent;
  };
  components: CycloneDxComponent[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

export interface CycloneDxComponent {
  type: "application" | "library";
  "bom-ref"?: string;
  group?: string;
  name: string;
  version?: string;
  purl?: string;
  author?: string;
  supplier?: { name: string };
  licenses?: CycloneDxLicense[];
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

/** What the SBOM says of the app beside the bundle. */
export interface SbomContext {
  /** The app's name (palisade.yaml `name`): supplier of the function and author of the SBOM. */
  appName: string;
  /** Versions of the tools that made the bundle and SBOM, named in `metadata.tools`. */
  palisadeVersion: string;
  esbuildVersion: string;
  /** Package URLs of the bundled packages the function's own code imports. */
  direct: readonly string[];
  /** When the SBOM was made. @default SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else now */
  now?: Date;
}

/**
 * The SBOM of one function bundle, with the NTIA minimum elements: supplier, name, version and
 * package URL of each component, the dependency graph, the author of the SBOM and a timestamp;
 * licenses where package.json states one. The function is the described component (with the
 * bundle's SHA-256), each npm package in the bundle a library. The serial number derives from the
 * bundle's digest, so one bundle keeps one serial; the timestamp is the build's (SOURCE_DATE_EPOCH
 * for byte-identical rebuilds).
 */
export function createSbom(
  functionName: string,
  bundleSha256: string,
  packages: readonly BundledPackage[],
  context: SbomContext,
): CycloneDxBom {
  const root = `palisade-function:${functionName}`;
  return {
    $schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: serialOf(functionName, bundleSha256),
    version: 1,
    metadata: {
      timestamp: timestampOf(functionName, context.now),
      tools: {
        components: [
          { type: "application", name: "palisade", version: context.palisadeVersion },
          { type: "application", name: "esbuild", version: context.esbuildVersion },
        ],
      },
      authors: [{ name: `${context.appName} (palisade build)` }],
      component: {
        type: "application",
        "bom-ref": root,
        name: functionName,
        // A function has no release number: its bundle's digest tells builds apart, shortened as git
        // shortens a commit's (the whole digest, its unique identifier, is in `hashes`).
        version: `sha256:${bundleSha256.slice(0, 12)}`,
        supplier: { name: context.appName },
        hashes: [{ alg: "SHA-256", content: bundleSha256 }],
      },
    },
    components: packages.map(toComponent),
    dependencies: [
      { ref: root, dependsOn: [...context.direct] },
      ...packages.map((p) => ({ ref: p.purl, dependsOn: p.dependsOn })),
    ],
  };
}

// A UUID (RFC 9562 layout, version 8: custom) from the function's name and bundle digest.
function serialOf(functionName: string, bundleSha256: string): string {
  const h = createHash("sha256").update(`palisade-sbom\0${functionName}\0${bundleSha256}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// SOURCE_DATE_EPOCH is the build's time for reproducible builds: an integer count of seconds since
// 1970-01-01 UTC; a malformed one fails the build (reproducible-builds.org/specs/source-date-epoch).
function timestampOf(functionName: string, now: Date | undefined): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  let at = now ?? new Date();
  if (now === undefined && epoch !== undefined && epoch !== "") {
    at = new Date(/^\d{1,12}$/.test(epoch) ? Number(epoch) * 1000 : Number.NaN);
    if (Number.isNaN(at.getTime()) || at.getUTCFullYear() > 9999) {
      throw new PalisadeError(
        SUPPLY_BUILD_FAILED,
        `Cannot write the SBOM of function "${functionName}": SOURCE_DATE_EPOCH is "${epoch}", not a count of seconds since 1970-01-01 UTC; set it to one (git log -1 --format=%ct) or unset it`,
      );
    }
  }
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
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
    ...(pkg.author === undefined ? {} : { author: pkg.author }),
    // The supplier is who distributes it: its author, else the registry it was fetched from.
    ...supplierOf(pkg),
    ...(pkg.licenses === undefined ? {} : { licenses: cycloneDxLicenses(pkg.licenses) }),
    ...(hashes.length > 0 ? { hashes } : {}),
    ...(pkg.resolved === undefined
      ? {}
      : { externalReferences: [{ type: "distribution", url: pkg.resolved }] }),
  };
}

function supplierOf(pkg: BundledPackage): { supplier?: { name: string } } {
  if (pkg.author !== undefined) return { supplier: { name: pkg.author } };
  if (pkg.resolved === undefined) return {};
  try {
    return { supplier: { name: new URL(pkg.resolved).host } };
  } catch {
    return {};
  }
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
