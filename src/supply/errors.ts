/** Error codes of the supply (signed function bundles) domain. */
/** esbuild failed, or a bundled package cannot be described in the SBOM. */
export const SUPPLY_BUILD_FAILED = "PAL_SUPPLY_BUILD_FAILED";
/** The function directory has no bundle or no SBOM. */
export const SUPPLY_NOT_BUILT = "PAL_SUPPLY_NOT_BUILT";
/** The function directory has no attestation. */
export const SUPPLY_UNSIGNED = "PAL_SUPPLY_UNSIGNED";
/** No signature of the attestation is by a trusted key. */
export const SUPPLY_UNTRUSTED_KEY = "PAL_SUPPLY_UNTRUSTED_KEY";
/** A signature by a trusted key does not verify: the attestation was changed after signing. */
export const SUPPLY_BAD_SIGNATURE = "PAL_SUPPLY_BAD_SIGNATURE";
/** The bundle or SBOM on disk is not the one that was signed (or the SBOM does not describe the bundle). */
export const SUPPLY_DIGEST_MISMATCH = "PAL_SUPPLY_DIGEST_MISMATCH";
/** A validly signed bundle sits in the directory of another function than the one it was signed for. */
export const SUPPLY_WRONG_FUNCTION = "PAL_SUPPLY_WRONG_FUNCTION";
/** The attestation or SBOM is not what Palisade writes (bad JSON, wrong types, missing fields). */
export const SUPPLY_MALFORMED = "PAL_SUPPLY_MALFORMED";
/** A file of the function directory, or the directory itself, is a symbolic link. */
export const SUPPLY_SYMLINK = "PAL_SUPPLY_SYMLINK";
/** A validly signed bundle is older than the one last accepted for its function (a rollback). */
export const SUPPLY_DOWNGRADE = "PAL_SUPPLY_DOWNGRADE";
/** The app has no signing key (`keys/signing.key`). */
export const SUPPLY_KEY_MISSING = "PAL_SUPPLY_KEY_MISSING";
/** A key file is not an Ed25519 key in the expected PEM form, or a key would be overwritten. */
export const SUPPLY_BAD_KEY = "PAL_SUPPLY_BAD_KEY";
