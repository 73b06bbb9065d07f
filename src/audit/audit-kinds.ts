/**
 * The kinds of record Palisade writes, one per security-relevant decision (DESIGN §1.6). `record`
 * accepts other kinds named the same way (lower case, dotted). Suggested `details` are in brackets;
 * they are names, reasons, digests and addresses, never secret values.
 */
export const AUDIT_KIND = {
  /**
   * An event or request refused at ingress [reason, code, status, ip, route, count]; actor: the
   * principal if known. Repeats within 10 s are one record with their `count` (aggregate-repeats.ts).
   */
  ingressRejected: "ingress.rejected",
  /**
   * A function's capability call refused [capability, reason, eventId, count]; actor: the function,
   * subject: the target. Repeats within 10 s are one record with their `count`, without `eventId`.
   */
  capabilityDenied: "capability.denied",
  /** The platform started an app [manifestDigest, mode, functions]. */
  appStarted: "app.started",
  /** A new version of the app or a function was deployed or reloaded [manifestDigest, functions]. */
  appDeployed: "app.deployed",
  /** A function bundle failed verification and will not run [code, reason, keyid]. */
  bundleRejected: "bundle.rejected",
  /** A bundle older than the last one run was started on purpose (--allow-downgrade) [replacedBuiltAt, sha256]. */
  bundleDowngraded: "bundle.downgraded",
  /** A secret was stored, rotated or removed; subject: its name. */
  secretSet: "secret.set",
  secretRotated: "secret.rotated",
  secretRemoved: "secret.removed",
  /** A secret's value was printed for an operator (`palisade secrets get`); subject: its name. */
  secretRead: "secret.read",
  /** A function's kv value was printed for an operator (`palisade kv get`); subject: the namespace. */
  kvRead: "kv.read",
  /** A store on disk went back to an older copy [store, found, expected]; subject: its file. */
  rollbackDetected: "state.rolled-back",
  /** A data key was added or retired [version]. */
  keyRotated: "key.rotated",
  keyRetired: "key.retired",
  /** A call to the admin API [method, path, status]; actor: the admin principal. */
  adminCall: "admin.call",
  /**
   * A dashboard login, accepted or refused [ip, reason]; actor: the admin, when the credential named
   * one. Logouts and expired sessions are not recorded.
   */
  adminLogin: "admin.login",
  /** A delivery moved to the dead-letter queue [eventId, reason, attempts]; subject: the function. */
  deadLettered: "delivery.dead-lettered",
  /**
   * A delivery refused without running it: its stored event does not open (`corrupt`), its row is
   * not one the platform wrote (`unauthenticated`), or the function does not subscribe to the event
   * now (`not-subscribed`) [eventId, type, reason, error]; subject: the function. It is dead-lettered.
   */
  deliveryRefused: "delivery.refused",
  /**
   * Delivery rows of an event log without authentication codes were signed on open, as for a log
   * from before codes existed [rows]; subject: the log file. Rows planted in such a log are signed too.
   */
  deliveryRowsSigned: "delivery.rows-signed",
  /** Dead letters or archived events sent again [count, reason]. */
  replayed: "delivery.replayed",
  /**
   * A function was quarantined: its deliveries are held, pending [detector, severity, summary,
   * finding (the id of its palisade.security.anomaly event)]; subject: the function.
   */
  quarantined: "function.quarantined",
  /** A detector reported a finding it only alerts on [detector, severity, summary, finding]. */
  anomaly: "security.anomaly",
  /**
   * A client address was blocked for a while after a detector's finding (credential stuffing)
   * [detector, severity, summary, finding]; subject: the address.
   */
  clientBlocked: "client.blocked",
  /**
   * A chain's further work was held past its amplification budget or recursion depth (detector 1)
   * [detector, severity, summary, finding]; subject: the root, `<principal>/<id>`.
   */
  chainHeld: "chain.held",
  /**
   * A principal's rate limit was lowered to its baseline rate for a while after an ingress flood
   * [detector, severity, summary, finding]; subject: the principal.
   */
  principalThrottled: "principal.throttled",
  /**
   * A function's start rate was capped for a while after its cost per invocation kept rising (cost
   * drift, response throttle) [detector, severity, summary, finding]; subject: the function.
   */
  functionThrottled: "function.throttled",
  /** An operator held a principal: its requests are refused, its chains' work waits; subject: the principal. */
  principalHeld: "principal.held",
  /** An operator released a held principal; subject: the principal; actor: the operator. */
  principalReleased: "principal.released",
  /** An operator lifted a chain's hold: its held work runs; subject: the root; actor: the operator. */
  chainReleased: "chain.released",
  /** An operator discarded a held chain's work (dead-lettered as it comes); subject: the root. */
  chainDiscarded: "chain.discarded",
  /**
   * One capability target of a function was held (a novelty finding with response hold, or an
   * operator): calls to it wait with their deliveries [detector, severity, summary, finding];
   * subject: the scope, `<function>/<capability>:<target>`.
   */
  capabilityHeld: "capability.held",
  /** An operator lifted a capability's hold: its held deliveries run again; subject: the scope. */
  capabilityReleased: "capability.released",
  /** An operator dead-lettered the deliveries a capability's hold kept waiting [count]; subject: the scope. */
  capabilityDiscarded: "capability.discarded",
  /** An operator lifted a function's quarantine: held work runs [since, held]; actor: the operator. */
  quarantineLifted: "function.quarantine-lifted",
  /** An operator dead-lettered a quarantined function's held work [count, since]; actor: the operator. */
  quarantineDiscarded: "function.quarantine-discarded",
  /** `palisade permissions suggest --write` removed or narrowed grants in palisade.yaml [dropped, narrowed]. */
  permissionsNarrowed: "permissions.narrowed",
  /** A delivery was held because a budget ran out [budget, limit]. */
  budgetHeld: "budget.held",
  /** The host stopped a function's sandbox process for breaking a sandbox limit [reason, bytes, limit]. */
  sandboxStopped: "sandbox.stopped",
  /** A function crashed in a loop: unavailable, its deliveries held, until its cool-down ends [crashes, windowMs, until]. */
  functionUnavailable: "function.unavailable",
  /** A function that was unavailable completed an invocation and runs again. */
  functionAvailable: "function.available",
} as const;
