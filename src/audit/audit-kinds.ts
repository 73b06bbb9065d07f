/**
 * The kinds of record Palisade writes, one per security-relevant decision (DESIGN §1.6). `record`
 * accepts other kinds named the same way (lower case, dotted). Suggested `details` are in brackets;
 * they are names, reasons, digests and addresses, never secret values.
 */
export const AUDIT_KIND = {
  /** An event or request refused at ingress [reason, code, address, type]; actor: the principal if known. */
  ingressRejected: "ingress.rejected",
  /** A function's capability call refused [capability, target]; actor: the function. */
  capabilityDenied: "capability.denied",
  /** The platform started an app [manifestDigest, mode, functions]. */
  appStarted: "app.started",
  /** A new version of the app or a function was deployed or reloaded [manifestDigest, functions]. */
  appDeployed: "app.deployed",
  /** A function bundle failed verification and will not run [code, reason, keyid]. */
  bundleRejected: "bundle.rejected",
  /** A secret was stored, rotated or removed; subject: its name. */
  secretSet: "secret.set",
  secretRotated: "secret.rotated",
  secretRemoved: "secret.removed",
  /** A data key was added or retired [version]. */
  keyRotated: "key.rotated",
  keyRetired: "key.retired",
  /** A call to the admin API [method, path, status]; actor: the admin principal. */
  adminCall: "admin.call",
  /** A delivery moved to the dead-letter queue [eventId, reason, attempts]; subject: the function. */
  deadLettered: "delivery.dead-lettered",
  /** Dead letters or archived events sent again [count, reason]. */
  replayed: "delivery.replayed",
  /** A function was quarantined: its deliveries are held [reason, finding]. */
  quarantined: "function.quarantined",
  /** A delivery was held because a budget ran out [budget, limit]. */
  budgetHeld: "budget.held",
  /** The host stopped a function's sandbox process for breaking a sandbox limit [reason, bytes, limit]. */
  sandboxStopped: "sandbox.stopped",
  /** A function crashed in a loop: unavailable, its deliveries held, until its cool-down ends [crashes, windowMs, until]. */
  functionUnavailable: "function.unavailable",
  /** A function that was unavailable completed an invocation and runs again. */
  functionAvailable: "function.available",
} as const;
