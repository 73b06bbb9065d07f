/** Error codes of the manifest domain. */
export const MANIFEST_INVALID = "PAL_MANIFEST_INVALID";
export const MANIFEST_NOT_FOUND = "PAL_MANIFEST_NOT_FOUND";
/** The grants to edit are not there, or are in an anchored or aliased node (the edit would spread). */
export const MANIFEST_EDIT_REFUSED = "PAL_MANIFEST_EDIT_REFUSED";
