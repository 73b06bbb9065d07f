/** Error codes of the manifest domain. */
export const MANIFEST_INVALID = "PAL_MANIFEST_INVALID";
export const MANIFEST_NOT_FOUND = "PAL_MANIFEST_NOT_FOUND";
