/**
 * Supply chain: signed function bundles (DESIGN §1.5, §9 Signing). `palisade build` bundles each
 * function, lists the npm packages in the bundle in a CycloneDX SBOM and signs the digests of bundle
 * and SBOM (Ed25519, DSSE envelope, in-toto statement); the runtime verifies before a bundle runs.
 *
 * Threat model: protects against a bundle or SBOM changed after signing (on disk, in an artifact
 * store, in transit), a bundle signed by a key the app does not trust, a validly signed bundle moved
 * into another function's directory (it would run with that function's grants), and symbolic links
 * that would make the verified file differ from the one that runs. It does not protect against a
 * compromised build machine or signing key (a malicious dependency present at build time is signed
 * like the rest; the SBOM is what makes it findable), an attacker who can write the app's `keys/*.pub`
 * or its `.palisade/` directory (where the verified bytes are staged and the history of accepted builds
 * is kept), or a rollback on an app whose `.palisade/bundle-history.json` was lost. A bundle is loaded
 * from the bytes that were verified, staged where only the platform writes (no window between verify
 * and load), and a validly signed bundle built before the last one accepted is refused unless
 * `--allow-downgrade`.
 */

export { type BuildFunctionOptions, type BuiltFunction, buildFunction } from "./build-function.ts";
export { admitBundle, BUNDLE_HISTORY_FILE } from "./bundle-history.ts";
export type { CycloneDxBom, CycloneDxComponent } from "./create-sbom.ts";
export type { BundledPackage } from "./describe-packages.ts";
export {
  type DsseEnvelope,
  type FunctionStatement,
  PAYLOAD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
} from "./dsse.ts";
export {
  SUPPLY_BAD_KEY,
  SUPPLY_BAD_SIGNATURE,
  SUPPLY_BUILD_FAILED,
  SUPPLY_DIGEST_MISMATCH,
  SUPPLY_DOWNGRADE,
  SUPPLY_KEY_MISSING,
  SUPPLY_MALFORMED,
  SUPPLY_NOT_BUILT,
  SUPPLY_SYMLINK,
  SUPPLY_UNSIGNED,
  SUPPLY_UNTRUSTED_KEY,
  SUPPLY_WRONG_FUNCTION,
} from "./errors.ts";
export { ATTESTATION_FILE, BUNDLE_FILE, SBOM_FILE } from "./function-files.ts";
export { signFunction } from "./sign-function.ts";
export {
  generateSigningKey,
  keyIdOf,
  loadSigningKey,
  loadTrustedKeys,
  SIGNING_KEY_FILE,
  SIGNING_PUB_FILE,
} from "./signing-keys.ts";
export { checkStagedBundle, stageBundle } from "./stage-bundle.ts";
export { type VerifiedBundle, verifyFunction } from "./verify-function.ts";
