import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { ensureEventKey, eventKeysJwks, loadEventTrust, rotateEventKey } from "../../security/index.ts";
import { EXIT_OK } from "../exit-codes.ts";

/**
 * `palisade keys event-key [--rotate] [--json]`: the key id the platform signs its events with now,
 * and every event public key the app has had as a JWKS, which a receiver (a sink's endpoint, another
 * Palisade's `principals.<p>.signing.jwks`) trusts to verify `dssematerial`. `--rotate` makes a new
 * key for the next start; the old public halves stay, so what they signed still verifies.
 */
export function runEventKey(opts: { app: string; rotate?: boolean; json?: boolean }): number {
  const current = opts.rotate === true ? rotateEventKey(opts.app) : ensureEventKey(opts.app).keyid;
  if (opts.rotate === true)
    auditCommand(opts.app, {
      kind: AUDIT_KIND.keyRotated,
      outcome: "allowed",
      details: { key: "events", keyid: current },
    });
  const jwks = eventKeysJwks(loadEventTrust(opts.app));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ keyid: current, ...jwks })}\n`);
    return EXIT_OK;
  }
  const verb = opts.rotate === true ? "now signs (from the next start)" : "signs";
  process.stdout.write(
    `event key ${current} ${verb}; ${jwks.keys.length} trusted (JWKS for receivers: --json)\n`,
  );
  return EXIT_OK;
}
