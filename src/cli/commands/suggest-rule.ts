/** The rule of `permissions suggest`, apart from its work so `--help` loads nothing else. */

/** Days of recent use that keep a grant. @default 30 */
export const DEFAULT_SUGGEST_DAYS = 30;
/** The rule, as `--help` prints it. */
export const SUGGEST_RULE = `
Rule:
  A grant used within the last --days days (default ${DEFAULT_SUGGEST_DAYS}) is kept. Any other
  emit type, secret, egress entry or kv namespace is dropped: never used, or "stale" (used,
  but only before the window). A readwrite kv namespace that read but did not write within
  the window becomes read (there is no write-only mode). Nothing is ever added: refused
  calls are listed only.
  --write writes nothing and exits 1 if any change would drop or narrow a stale grant, or
  touch a function with no recorded capability use at all (it may not have run yet), unless
  --force; never-used grants of a function that did use something are dropped without it.
  Not suggested: limits, tmp and allowCodeGeneration. usage.db counts calls per grant; it
  records no durations, memory, concurrency, rates, sizes or scratch-space use to size them by.
Exit codes: 0 shown or written, 1 refused or failed, 2 usage or manifest error.
`;
