/** How bad a finding is; `palisade start` and `build` refuse on unwaived `high` ones. */
export type Severity = "high" | "medium" | "low";

/** Where a finding is: a file relative to the app directory, its line, and the path a waiver names. */
export interface Location {
  readonly file: string;
  readonly line?: number;
  /**
   * `functions.charge.egress[0]` for the manifest (and for code whose fix is in the manifest),
   * `schemas/order.json#/properties/note` inside a JSON file, or the file itself.
   */
  readonly path: string;
}

/** One thing a rule found: what, how to fix it, and where. */
export interface Hit {
  readonly message: string;
  readonly fix: string;
  readonly location: Location;
}

/** What a rule's check returns: its hits, with a note if it passed in a way worth saying, or why it could not run. */
export type RuleOutcome =
  | readonly Hit[]
  | { readonly hits: readonly Hit[]; readonly note: string }
  | { readonly skipped: string };

/** A hit with its rule's id, severity and title, and the waiver that covers it, if any. */
export interface Finding extends Hit {
  readonly rule: string;
  readonly severity: Severity;
  readonly title: string;
  readonly waived?: { readonly reason: string; readonly expires: string };
}
